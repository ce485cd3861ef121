"""Metrics: names, labels and values as GET /metrics exposes them; registries never shared."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from brewd.adapters.metrics import Metrics

NOW = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return 0.0


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(m.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_run_finished_counts_by_outcome_and_stamps_last_success() -> None:
    m = Metrics(FixedClock())
    m.run_finished("expireUsers", "succeeded", 1.5, 12)
    m.run_finished("expireUsers", "failed", 0.2, None)
    s = samples(m)
    assert s[("brewd_job_runs_total", (("job", "expireUsers"), ("status", "succeeded")))] == 1
    assert s[("brewd_job_runs_total", (("job", "expireUsers"), ("status", "failed")))] == 1
    assert s[("brewd_job_affected_records_total", (("job", "expireUsers"),))] == 12
    assert s[("brewd_job_duration_seconds_count", (("job", "expireUsers"),))] == 2
    last = s[("brewd_job_last_success_timestamp_seconds", (("job", "expireUsers"),))]
    assert last == NOW.timestamp()


def test_failed_run_does_not_move_last_success() -> None:
    m = Metrics(FixedClock())
    m.run_finished("expirePokes", "failed", 0.1, 0)
    names = {name for name, _ in samples(m)}
    assert "brewd_job_last_success_timestamp_seconds" not in names


def test_schedule_lag_is_fine_grained_below_one_second() -> None:
    m = Metrics(FixedClock())
    m.schedule_lag("expirePokes", 0.03)
    s = samples(m)
    key = "brewd_schedule_lag_seconds_bucket"
    assert s[(key, (("job", "expirePokes"), ("le", "0.025")))] == 0
    assert s[(key, (("job", "expirePokes"), ("le", "0.05")))] == 1
    below_one = [lbl for (n, lbl) in s if n == key and float(dict(lbl)["le"]) < 1]
    assert len(below_one) >= 8


def test_gauges_and_counters() -> None:
    m = Metrics(FixedClock())
    m.missed("calculateBadges", "downtime", 3)
    m.set_next_run("calculateBadges", NOW)
    m.set_next_run("expireBadges", None)
    m.set_dependency_up("database", True)
    m.set_dependency_up("redis", False)
    m.clock_jump()
    s = samples(m)
    missed = ("brewd_missed_slots_total", (("job", "calculateBadges"), ("reason", "downtime")))
    assert s[missed] == 3
    assert s[("brewd_job_next_run_timestamp_seconds", (("job", "calculateBadges"),))] == (
        NOW.timestamp()
    )
    assert s[("brewd_job_next_run_timestamp_seconds", (("job", "expireBadges"),))] == 0
    assert s[("brewd_up", (("dependency", "database"),))] == 1
    assert s[("brewd_up", (("dependency", "redis"),))] == 0
    assert s[("brewd_clock_jumps_total", ())] == 1


def test_two_instances_do_not_share_a_registry() -> None:
    a, b = Metrics(FixedClock()), Metrics(FixedClock())
    a.clock_jump()
    assert samples(b)[("brewd_clock_jumps_total", ())] == 0


def test_proactive_sources_exist_at_zero_then_count() -> None:
    m = Metrics(FixedClock())
    key = "brewd_proactive_messages_total"
    assert samples(m)[(key, (("source", "claude"),))] == 0  # a ratio needs both from the start
    m.proactive_posted("template", 3)
    m.proactive_posted("claude")
    s = samples(m)
    assert (s[(key, (("source", "claude"),))], s[(key, (("source", "template"),))]) == (1, 3)


def test_period_and_paused_gauges() -> None:
    m = Metrics(FixedClock())
    m.set_period("expirePokes", 300)
    m.set_paused("expirePokes", True)
    m.set_paused("expireUsers", False)
    s = samples(m)
    assert s[("brewd_job_period_seconds", (("job", "expirePokes"),))] == 300
    assert s[("brewd_job_paused", (("job", "expirePokes"),))] == 1
    assert s[("brewd_job_paused", (("job", "expireUsers"),))] == 0
