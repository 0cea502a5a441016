"""Reading ``GET /metrics`` the way Prometheus does (``prometheus_client``'s own parser)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families


class Samples:
    """One scrape: ``samples["name", {"label": "value"}]`` or ``samples["name"]``; 0 when absent."""

    def __init__(self, exposition: str) -> None:
        self._values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                self._values[sample.name, frozenset(sample.labels.items())] = sample.value

    def __getitem__(self, key: str | tuple[str, dict[str, str]]) -> float:
        name, labels = (key, {}) if isinstance(key, str) else key
        return self._values.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: Any) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    return Samples(await response.text())
