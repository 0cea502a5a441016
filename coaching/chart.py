"""The digest's chart: the team's last weeks as a PNG (matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

import io
import logging

from coaching.digest import WeekPoint

log = logging.getLogger(__name__)


def render_chart(history: list[WeekPoint], title: str) -> bytes | None:
    """Per week: negotiations held and commitments kept vs overdue (bars), follow-ups within 24 h and the
    personal-connection rate (lines); the running week is shaded and labelled "so far". None if it cannot be
    drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency; the digest survives without it
        log.warning("matplotlib is not installed: digest without chart")
        return None
    labels = [point.week.split("-")[1] + ("\n(so far)" if point.partial else "") for point in history]
    positions = list(range(len(history)))
    figure, bars = plt.subplots(figsize=(8, 3.8), dpi=100)
    try:
        width = 0.26
        series = (
            ("negotiations held", [p.held for p in history], "#78909c", -width),
            ("commitments kept", [p.kept for p in history], "#2e7d32", 0.0),
            ("commitments overdue", [p.overdue for p in history], "#c62828", width),
        )
        for label, values, color, offset in series:
            bars.bar([x + offset for x in positions], values, width, label=label, color=color)
        for x, point in zip(positions, history, strict=True):
            if point.partial:  # the running week: its figures are still growing
                bars.axvspan(x - 0.5, x + 0.5, color="#fff3cd", zorder=0)
        bars.set_ylabel("count")
        bars.set_xticks(positions, labels)
        bars.set_xlim(-0.5, len(history) - 0.5)
        bars.yaxis.get_major_locator().set_params(integer=True)
        rate = bars.twinx()
        for label, values, color in (
            ("follow-ups ≤24 h", [p.followup_rate for p in history], "#1565c0"),
            ("personal connection", [p.connection_rate for p in history], "#ef6c00"),
        ):
            points = [float("nan") if r is None else round(r * 100) for r in values]
            rate.plot(positions, points, marker="o", color=color, label=label, clip_on=False, zorder=3)
        rate.set_ylim(-6, 106)  # a 0% week sits above the axis, where it can be seen, not on it
        rate.set_yticks([0, 25, 50, 75, 100])
        rate.set_ylabel("% of negotiations")
        handles = bars.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
        bars.set_title(title, fontsize=10)
        figure.tight_layout(rect=(0, 0.12, 1, 1))
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
