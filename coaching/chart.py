"""The digest's chart: the team's last weeks as a PNG (matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

import io
import logging

from coaching.digest import WeekPoint

log = logging.getLogger(__name__)


def render_chart(history: list[WeekPoint], title: str) -> bytes | None:
    """Follow-up rate (line) and commitments kept vs overdue (bars) per week; None if it cannot be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency; the digest survives without it
        log.warning("matplotlib is not installed: digest without chart")
        return None
    labels = [point.week.split("-")[1] for point in history]
    positions = list(range(len(history)))
    figure, bars = plt.subplots(figsize=(8, 3.6), dpi=100)
    try:
        width = 0.38
        bars.bar([x - width / 2 for x in positions], [p.kept for p in history], width, label="kept", color="#2e7d32")
        bars.bar(
            [x + width / 2 for x in positions], [p.overdue for p in history], width, label="overdue", color="#c62828"
        )
        bars.set_ylabel("commitments")
        bars.set_xticks(positions, labels)
        rate = bars.twinx()
        rates = [None if p.followup_rate is None else round(p.followup_rate * 100) for p in history]
        rate.plot(
            positions,
            [float("nan") if r is None else r for r in rates],
            marker="o",
            color="#1565c0",
            label="follow-ups ≤24 h",
        )
        rate.set_ylim(0, 105)
        rate.set_ylabel("follow-ups within 24 h (%)")
        handles = bars.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
        bars.yaxis.get_major_locator().set_params(integer=True)
        bars.set_title(title, fontsize=10)
        figure.tight_layout(rect=(0, 0.08, 1, 1))
        figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
        raw = io.BytesIO()
        figure.savefig(raw, format="png")
        return _small_png(raw.getvalue())
    except Exception:
        log.exception("could not draw the digest chart")
        return None
    finally:
        plt.close(figure)


def _small_png(data: bytes) -> bytes:
    """A 32-colour palette PNG: a third of the size, small enough to ride inside a Teams card."""
    try:
        from PIL import Image  # matplotlib depends on Pillow
    except ImportError:  # pragma: no cover
        return data
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=32).save(out, format="PNG", optimize=True)
    return out.getvalue()
