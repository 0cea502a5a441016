"""The set-up docs say what the server really says: every log line README.md and docs/*.md quote (in a ```log
block, or inline after "logs"/"the log says") is printed by `dealcoach serve` in the set-up the docs describe —
and the Slack steps work in their order: the request URL verifies with only the signing secret set. README's map
of the code names every module there is, and none that is gone."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.slack.slackfakes import SECRET, signed_headers
from tests.test_cli import DEALCOACH, env_for, free_port

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```log\n(.*?)```", re.DOTALL)
_INLINE = re.compile(r"(?:\blogs|\blog says) `([^`]+)`")

# The set-ups the docs walk an admin through, each as the environment `dealcoach serve` starts with.
SETUPS = {
    "nothing configured": {},
    "Slack app created, not installed": {"SLACK_SIGNING_SECRET": SECRET, "DEALCOACH_TEAMS_EMULATOR": "1"},
    "Slack installed, Teams registered": {
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": "xoxb-docs-test",
        "MicrosoftAppId": "00000000-0000-0000-0000-0000000000d0",
        "MicrosoftAppPassword": "docs-test-password",
    },
}


def quoted_log_lines() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for block in _BLOCK.findall(text):
            found += [(path.name, line.strip()) for line in block.splitlines() if line.strip()]
        found += [(path.name, line) for line in _INLINE.findall(text)]
    return found


def _post(port: int, body: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def serve(tmp_path: Path, env: dict[str, str], during=None) -> str:  # type: ignore[no-untyped-def]
    """Run `dealcoach serve` with ``env`` until /healthz answers (then ``during(port)``); what it logged."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*DEALCOACH, "serve"], stdout=out, stderr=subprocess.STDOUT, env=env_for(tmp_path, PORT=str(port), **env)
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail("dealcoach serve did not come up:\n" + log.read_text())
                    time.sleep(0.2)
            if during is not None:
                during(port)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return log.read_text()


def test_the_docs_quote_log_lines() -> None:
    names = {name for name, _ in quoted_log_lines()}
    assert {"slack.md", "teams.md"} <= names  # the test below would pass vacuously otherwise


def test_every_log_line_the_docs_quote_is_one_the_server_prints(tmp_path: Path) -> None:
    answers: list[tuple[int, str]] = []

    def verify_the_request_url(port: int) -> None:
        body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRN", "type": "url_verification"})
        answers.append(_post(port, body, signed_headers(body, content_type="application/json")))
        answers.append(_post(port, body, signed_headers(body, content_type="application/json", secret="wrong")))
        command = "command=%2Fnegotiation&text=help&team_id=T1&user_id=U1"
        answers.append(_post(port, command, signed_headers(command, content_type="application/x-www-form-urlencoded")))

    printed = ""
    for name, env in SETUPS.items():
        during = verify_the_request_url if name == "Slack app created, not installed" else None
        printed += serve(tmp_path, env, during)
    # before the bot token exists, Slack's URL check is answered, a forged one is not, and nothing else runs
    assert answers[0] == (200, json.dumps({"challenge": "3eZbrw1aBm2rZgRN"}))
    assert answers[1][0] == 401
    assert answers[2][0] == 503 and "not installed" in answers[2][1]

    missing = []
    for doc, line in quoted_log_lines():
        pattern = ".*".join(re.escape(part.strip()) for part in line.split("…"))
        if not re.search(pattern, printed):
            missing.append(f"{doc}: {line}")
    assert missing == [], "quoted in the docs but never printed:\n" + "\n".join(missing) + "\n\nprinted:\n" + printed


def _code_map() -> str:
    """README's map of the code: the tree block under "How it works"."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```\nbot/", text.index("## How it works"))
    return text[start : text.index("```", start + 4)]


def test_readme_map_names_every_module_and_only_modules_that_exist() -> None:
    """By file name: the map groups modules under their folder, so ``files.py`` named once covers each folder's."""
    block = _code_map()
    modules = [
        path
        for folder in ("bot", "coaching", "adapters")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    ]
    unnamed = [str(p.relative_to(ROOT)) for p in modules if not re.search(rf"\b{re.escape(p.name)}\b", block)]
    assert unnamed == [], f"README's map of the code does not name {unnamed}"
    names = {"__init__.py"} | {p.name for folder in ("deploy", "bench") for p in (ROOT / folder).rglob("*.py")}
    names |= {p.name for p in modules}
    named = set(re.findall(r"\b[\w.]+\.py\b", block))
    assert named <= names, f"README's map names modules that are gone: {named - names}"
