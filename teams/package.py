"""Teams app package: draw the two icons and zip them with manifest.json for sideloading.

    python teams/package.py --icons                       # (re)draw color.png and outline.png
    python teams/package.py --app-id <MicrosoftAppId>     # write dist/dealcoach-teams.zip

Only the standard library (zlib + struct write the PNGs), so no imaging dependency is needed.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x1F, 0x6F, 0xB2)
WHITE = (255, 255, 255)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixel: Callable[[float, float], Pixel]) -> bytes:
    """An RGBA PNG; ``pixel(x, y)`` gets coordinates scaled to 0..1."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel((x + 0.5) / width, (y + 0.5) / height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _in_bubble(x: float, y: float) -> bool:
    """A speech bubble (rounded rectangle with a tail), in 0..1 coordinates."""
    left, top, right, bottom, radius = 0.16, 0.2, 0.84, 0.68, 0.12
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    if left <= x <= right and top <= y <= bottom and (x - cx) ** 2 + (y - cy) ** 2 <= radius**2:
        return True
    # the tail: a triangle below the bubble's lower left
    return bottom <= y <= 0.84 and 0.3 <= x <= 0.3 + (0.84 - y) * 1.2


def _in_check(x: float, y: float, width: float) -> bool:
    """A check mark (two strokes) inside the bubble."""

    def near(ax: float, ay: float, bx: float, by: float) -> bool:
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        return (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 <= width**2

    return near(0.33, 0.44, 0.45, 0.56) or near(0.45, 0.56, 0.68, 0.33)


def color_pixel(x: float, y: float) -> Pixel:
    if _in_bubble(x, y):
        return (*ACCENT, 255) if _in_check(x, y, 0.045) else (*WHITE, 255)
    return (*ACCENT, 255)


def outline_pixel(x: float, y: float) -> Pixel:
    # Teams wants white on transparent: the bubble with the check cut out.
    if _in_bubble(x, y) and not _in_check(x, y, 0.07):
        return (*WHITE, 255)
    return (0, 0, 0, 0)


def draw_icons() -> None:
    (HERE / "color.png").write_bytes(png(192, 192, color_pixel))
    (HERE / "outline.png").write_bytes(png(32, 32, outline_pixel))


def package(app_id: str, out: Path) -> Path:
    if not GUID.match(app_id):
        raise SystemExit(f"--app-id must be the bot's Microsoft App ID (a GUID), not {app_id!r}")
    manifest = (HERE / "manifest.json").read_text().replace("{{MICROSOFT_APP_ID}}", app_id)
    json.loads(manifest)  # still valid JSON
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        archive.write(HERE / "color.png", "color.png")
        archive.write(HERE / "outline.png", "outline.png")
    return out


if __name__ == "__main__":
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--icons", action="store_true", help="redraw color.png and outline.png")
    parser.add_argument("--app-id", help="the bot's Microsoft App ID; writes the zip to upload to Teams")
    parser.add_argument("--out", type=Path, default=HERE.parent / "dist" / "dealcoach-teams.zip")
    args = parser.parse_args()
    if args.icons:
        draw_icons()
        print("wrote teams/color.png (192x192) and teams/outline.png (32x32)")
    if args.app_id:
        print(f"wrote {package(args.app_id, args.out)}")
    if not (args.icons or args.app_id):
        parser.print_help()
