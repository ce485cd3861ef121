"""`brewd plan`: local and UTC times, the DST decisions, disabled jobs, elided steady runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from brewd.cli.plan import print_plan
from brewd.core.config import Config, JobConfig, SchedulerConfig, default_jobs
from brewd.core.cron import Cron


def paris_config() -> Config:
    jobs = default_jobs()
    jobs["proactiveMessages"] = JobConfig(schedule=Cron("*/2 * * * *"), enabled=False)
    jobs["nightly"] = JobConfig(schedule=Cron("30 2 * * *"))
    return Config(scheduler=SchedulerConfig(timezone="Europe/Paris"), jobs=jobs)


def rows(out: str, job: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(job + " ")]


def test_spring_forward_shows_local_and_utc_times_and_the_decision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert print_plan(paris_config(), hours=48, now=datetime(2027, 3, 27, 12, tzinfo=UTC)) == 0
    out = capsys.readouterr().out
    assert "LOCAL (Europe/Paris)" in out.splitlines()[1]
    assert any(
        "2027-03-28 03:00 CEST  2027-03-28 01:00  02:30 does not exist on 2027-03-28 "
        "(clocks spring forward): runs at 03:00 CEST, the first valid instant after" in row
        for row in rows(out, "nightly")
    )
    assert any("2027-03-29 02:30 CEST  2027-03-29 00:30" in row for row in rows(out, "nightly"))
    hourly = rows(out, "expireUsers")
    assert any("2027-03-28 03:00 CEST  2027-03-28 01:00  02:00-02:59 skipped" in r for r in hourly)
    assert not any(re.search(r"2027-03-28 02:\d\d CE", row) for row in hourly)  # not invented


def test_fall_back_shows_both_occurrences_for_wildcard_jobs_and_one_for_fixed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_plan(paris_config(), hours=24, now=datetime(2027, 10, 30, 12, tzinfo=UTC))
    out = capsys.readouterr().out
    hourly = rows(out, "expireUsers")
    assert any("2027-10-31 02:00 CEST  2027-10-31 00:00  repeated hour" in r for r in hourly)
    assert any("2027-10-31 02:00 CET   2027-10-31 01:00  repeated hour" in r for r in hourly)
    nightly = [row for row in rows(out, "nightly") if "2027-10-31" in row]
    assert len(nightly) == 1
    assert "02:30 CEST  2027-10-31 00:30  02:30 occurs twice" in nightly[0]
    assert "runs on the first occurrence only (CEST)" in nightly[0]


def test_disabled_jobs_are_marked_and_steady_runs_elided(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_plan(paris_config(), hours=48, now=datetime(2027, 1, 10, 12, tzinfo=UTC))
    out = capsys.readouterr().out
    assert rows(out, "proactiveMessages (disabled)")
    assert "... 1437 more, every 2 min" in out  # 1,440 slots: the first two and the last shown
    assert len(out.splitlines()) < 40
