"""The Teams app package (``dealcoach teams-package``): the manifest from ``deploy/teams/`` with the bot's
Microsoft App ID filled in, zipped with its two icons for sideloading; ``--icons`` redraws the icons."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

ACCENT = (0x1F, 0x6F, 0xB2, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
APP_ID_PLACEHOLDER = "{{MICROSOFT_APP_ID}}"
DIRECTORY = Path("deploy/teams")  # relative to the checkout the command runs in
ICONS = {"color.png": 192, "outline.png": 32}  # Teams' sizes
SUPERSAMPLE = 8  # drawn this much larger, then scaled down: smooth edges at 32 px


class PackageError(Exception):
    """Something the person running the command can fix (a wrong App ID, a missing file)."""


def _icon(size: int, *, outline: bool) -> Image.Image:
    """A speech bubble with a check mark: white on DealCoach blue (color), or white on transparent with the
    check cut out (outline, as Teams wants it)."""
    side = size * SUPERSAMPLE
    image = Image.new("RGBA", (side, side), CLEAR if outline else ACCENT)
    draw = ImageDraw.Draw(image)  # writes colours as given, transparency included (no blending)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x * side, y * side)

    draw.rounded_rectangle((*at(0.16, 0.2), *at(0.84, 0.68)), radius=0.12 * side, fill=WHITE)
    draw.polygon([at(0.3, 0.66), at(0.5, 0.66), at(0.3, 0.84)], fill=WHITE)  # the tail, below on the left
    stroke = (0.14 if outline else 0.09) * side
    check = ACCENT if not outline else CLEAR
    points = [at(0.33, 0.44), at(0.45, 0.56), at(0.68, 0.33)]
    draw.line(points, fill=check, width=round(stroke), joint="curve")
    for x, y in (points[0], points[-1]):  # round ends
        draw.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=check)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def draw_icons(directory: Path = DIRECTORY) -> list[Path]:
    """(Re)draw ``color.png`` (192×192) and ``outline.png`` (32×32) in ``directory``."""
    written = []
    for name, size in ICONS.items():
        path = directory / name
        _icon(size, outline=name.startswith("outline")).save(path, "PNG")
        written.append(path)
    return written


def package(app_id: str, out: Path, directory: Path = DIRECTORY) -> Path:
    """Write the zip to upload to Teams: manifest.json (with ``app_id``) and the icons it names."""
    if not GUID.match(app_id):
        raise PackageError(f"--app-id must be the bot's Microsoft App ID (a GUID), not {app_id!r}")
    try:
        manifest = (directory / "manifest.json").read_text().replace(APP_ID_PLACEHOLDER, app_id)
    except OSError:
        raise PackageError(f"no manifest.json in {directory} (run from the checkout, or pass --dir)") from None
    icons = json.loads(manifest)["icons"]  # still valid JSON, and it names its icons
    names = (icons["color"], icons["outline"])
    for name in names:
        if not (directory / name).is_file():
            raise PackageError(f"the manifest names {name}, which is not in {directory} (draw it with --icons)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        for name in names:
            archive.write(directory / name, name)
    return out
