"""Check deploy/docker-compose.yml without a Docker engine (CI has none): it parses, and it describes the
deployment README promises — PostgreSQL, at least two DealCoach replicas with /readyz health checks and a
grace period longer than DEALCOACH_SHUTDOWN_SECONDS, one published port in front of every replica, and
only environment variables DealCoach actually reads.

    python deploy/check.py        # prints what it checked; exit status 1 with a list of problems
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "bot" / "config.py"


def problems(compose: dict[str, Any], haproxy: str, settings_source: str) -> list[str]:
    found: list[str] = []
    services: dict[str, Any] = compose.get("services") or {}
    if "postgres" not in services or "healthcheck" not in services["postgres"]:
        found.append("no postgres service with a health check")
    replicas = {name: s for name, s in services.items() if "dealcoach" in str(s.get("image", ""))}
    if len(replicas) < 2:
        found.append(f"expected at least two DealCoach replicas, found {sorted(replicas)}")
    for name, service in replicas.items():
        env = service.get("environment") or {}
        if not str(env.get("DATABASE_URL", "")).startswith("postgresql+asyncpg://") or "@postgres:" not in str(
            env.get("DATABASE_URL", "")
        ):
            found.append(f"{name}: DATABASE_URL must point at the postgres service")
        check = " ".join(map(str, (service.get("healthcheck") or {}).get("test", [])))
        if "/readyz" not in check:
            found.append(f"{name}: its health check must ask /readyz")
        depends = service.get("depends_on") or {}
        if (depends.get("postgres") or {}).get("condition") != "service_healthy":
            found.append(f"{name}: must wait for a healthy postgres")
        grace = _seconds(str(service.get("stop_grace_period", "10s")))
        shutdown = float(env.get("DEALCOACH_SHUTDOWN_SECONDS", 8))
        if grace <= shutdown:
            found.append(f"{name}: stop_grace_period {grace:g}s must exceed DEALCOACH_SHUTDOWN_SECONDS {shutdown:g}")
        for variable in env:
            if f'"{variable}"' not in settings_source:
                found.append(f"{name}: DealCoach does not read {variable}")
        if f"server {name} {name}:" not in haproxy:
            found.append(f"haproxy.cfg does not route to {name}")
    published = [p for s in services.values() for p in s.get("ports", [])]
    if len(published) != 1:
        found.append(f"expected one published port (the proxy's), found {published}")
    if "httpchk GET /readyz" not in haproxy:
        found.append("haproxy.cfg must check /readyz")
    return found


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    if not match:
        return 0.0
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def main() -> int:
    compose = yaml.safe_load((HERE / "docker-compose.yml").read_text())
    found = problems(compose, (HERE / "haproxy.cfg").read_text(), CONFIG.read_text())
    for problem in found:
        print(f"deploy/docker-compose.yml: {problem}", file=sys.stderr)
    if not found:
        print(f"deploy/docker-compose.yml: ok ({', '.join(compose['services'])})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
