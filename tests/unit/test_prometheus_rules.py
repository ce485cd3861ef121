"""The shipped alerting rules: valid for promtool, and each alert's unit tests pass."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from brewd.adapters.metrics import Metrics

RULES_DIR = Path(__file__).resolve().parents[2] / "packaging" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing (Debian's prometheus package; .ci/run installs it)"
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120
    )


@needs_promtool
def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", "brewd-rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", "brewd-rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def alerts() -> list[str]:
    return re.findall(r"^\s+- alert: (\w+)$", (RULES_DIR / "brewd-rules.yml").read_text(), re.M)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = (RULES_DIR / "brewd-rules.test.yml").read_text()
    for alert in alerts():
        cases = re.findall(
            rf"alertname: {alert}\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n\n|\Z)", tests, re.S
        )
        firing = [c for c in cases if c.strip() and not c.strip().startswith("[]")]
        quiet = [c for c in cases if c.strip().startswith("[]")]
        assert firing, f"{alert} has no firing case"
        assert quiet, f"{alert} has no quiet case"


def test_every_alert_has_a_runbook_entry() -> None:
    runbook = (RULES_DIR.parents[1] / "docs" / "observability.md").read_text()
    for alert in alerts():
        assert f"#### {alert}" in runbook, f"{alert} has no runbook section"


def test_rules_use_only_metrics_brewd_exports() -> None:
    m = Metrics()
    m.run_finished("expirePokes", "succeeded", 0.1, 1)
    m.schedule_lag("expirePokes", 0.01)
    m.declare_job("expirePokes")
    m.set_period("expirePokes", 300)
    m.set_paused("expirePokes", False)
    m.set_dependency_up("redis", True)
    exported = {
        sample.name
        for family in text_string_to_metric_families(m.render().decode())
        for sample in family.samples
    }
    used = set(re.findall(r"\b(brewd_\w+)", (RULES_DIR / "brewd-rules.yml").read_text()))
    assert used, "no brewd metric found in the rules"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
