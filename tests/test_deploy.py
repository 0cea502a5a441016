"""deploy/docker-compose.yml describes the deployment README promises (deploy/check.py, also run by CI)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
spec = importlib.util.spec_from_file_location("deploy_check", DEPLOY / "check.py")
assert spec is not None and spec.loader is not None
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_the_compose_file_has_postgres_two_checked_replicas_and_one_port() -> None:
    assert check.main() == 0


def test_the_check_finds_what_a_broken_deployment_lacks() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    haproxy = (DEPLOY / "haproxy.cfg").read_text()
    settings = check.CONFIG.read_text()
    broken = copy.deepcopy(compose)
    del broken["services"]["dealcoach-2"]
    broken["services"]["dealcoach-1"]["environment"]["DEALCOACH_TYPO"] = "1"
    broken["services"]["dealcoach-1"]["stop_grace_period"] = "5s"
    found = check.problems(broken, haproxy, settings)
    assert any("at least two DealCoach replicas" in p for p in found)
    assert any("does not read DEALCOACH_TYPO" in p for p in found)
    assert any("stop_grace_period 5s" in p for p in found)
