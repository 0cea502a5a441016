"""`dealcoach teams-package`: the zip to sideload into Teams, and the icons it carries."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "0b9f6c1e-5d2a-4e8b-9a47-3c2d1e0f9a8b"


def test_the_package_carries_the_manifest_with_the_app_id_and_its_icons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)  # the default --dir is the checkout's deploy/teams
    out = tmp_path / "app.zip"
    assert main(["teams-package", "--app-id", APP_ID, "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
        assert "{{" not in archive.read("manifest.json").decode()
        assert archive.read("color.png") == (ROOT / "deploy/teams/color.png").read_bytes()


def test_a_wrong_app_id_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "app.zip"
    assert main(["teams-package", "--app-id", "my-bot", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "must be the bot's Microsoft App ID (a GUID), not 'my-bot'" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["teams-package", "--app-id", APP_ID, "--dir", str(tmp_path), "--out", str(out)]) == 2
    assert "no manifest.json in" in capsys.readouterr().err
    assert not out.exists()


def test_icons_are_drawn_in_teams_sizes_color_on_blue_outline_white_on_clear(tmp_path: Path) -> None:
    shutil.copy(ROOT / "deploy/teams/manifest.json", tmp_path)
    assert main(["teams-package", "--icons", "--dir", str(tmp_path)]) == 0
    with Image.open(tmp_path / "color.png") as color, Image.open(tmp_path / "outline.png") as outline:
        color.load(), outline.load()
    assert (color.size, color.mode) == ((192, 192), "RGBA")
    assert (outline.size, outline.mode) == ((32, 32), "RGBA")
    assert color.getpixel((2, 2)) == (0x1F, 0x6F, 0xB2, 255)  # the background
    assert color.getpixel((48, 58)) == (255, 255, 255, 255)  # inside the bubble
    assert color.getpixel((86, 107)) == (0x1F, 0x6F, 0xB2, 255)  # on the check mark
    pixels = [outline.getpixel((x, y)) for x in range(32) for y in range(32)]
    assert outline.getpixel((1, 1))[3] == 0 and outline.getpixel((14, 17))[3] == 0  # clear, check cut out
    assert outline.getpixel((8, 9)) == (255, 255, 255, 255)
    assert all(pixel[:3] == (255, 255, 255) for pixel in pixels if pixel[3] > 200)
