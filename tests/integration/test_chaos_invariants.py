"""The chaos run's invariant checks catch what they claim to, on a real database: a check that
cannot fail would make a green chaos run worthless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from brewd.jobs import ALL_JOBS
from tests.chaos import invariants, invariants_data
from tests.chaos.faults import Fault
from tests.helpers import one

Conn = psycopg.Connection[dict[str, Any]]
T0 = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def run_row(pg: Conn, job: str, slot: datetime | None, start_s: int, end_s: int) -> None:
    pg.execute(
        "INSERT INTO job_runs (job, slot, trigger, node, started_at, finished_at, status)"
        " VALUES (%s, %s, 'schedule', 'n', %s, %s, 'succeeded')",
        (job, slot, T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s)),
    )


def test_every_slot_needs_a_record_and_a_failure_needs_a_fault(pg: Conn) -> None:
    for job in ALL_JOBS:
        for minute in (1, 2, 3):
            if (job, minute) != ("expireUsers", 2):
                run_row(pg, job, T0 + timedelta(minutes=minute), 60 * minute, 60 * minute + 1)
    pg.execute("UPDATE job_runs SET status = 'failed', error = 'boom' WHERE job = 'expirePokes'")
    verdict = invariants.slots(pg, [], T0, T0 + timedelta(minutes=3))
    assert any("expireUsers 18:02: no record" in v for v in verdict.violations)
    assert any("expirePokes 18:01 failed (boom): no fault" in v for v in verdict.violations)
    near = Fault("db_link_cut", "n1", "", T0, T0 + timedelta(minutes=4))
    excused = invariants.slots(pg, [near], T0, T0 + timedelta(minutes=3))
    assert [v for v in excused.violations if "expirePokes" in v] == []


def test_two_runs_of_a_job_that_overlap_are_caught(pg: Conn) -> None:
    run_row(pg, "expirePokes", T0, 0, 30)
    run_row(pg, "expirePokes", None, 20, 25)  # a manual run inside the scheduled one
    run_row(pg, "expireUsers", T0, 10, 15)  # another job: may run meanwhile
    verdict = invariants.no_overlap(pg)
    assert len(verdict.violations) == 1
    assert verdict.violations[0].startswith("expirePokes:")


def test_an_analytics_row_that_differs_from_the_raw_tables_is_caught(pg: Conn) -> None:
    cafe = one(pg.execute("INSERT INTO cafes (name) VALUES ('c') RETURNING id"))["id"]
    pg.execute(
        "INSERT INTO users (username, cafe_id, created_at, expires_at)"
        " VALUES ('u', %s, '2026-12-04 09:00Z', '2026-12-05 00:00Z')",
        (cafe,),
    )
    columns = "(cafe_id, date, hour, total_users, active_users, total_pokes, total_messages,"
    columns += " average_session_duration, peak_concurrent_users)"
    pg.execute(
        f"INSERT INTO analytics {columns} VALUES"
        " (%(c)s, '2026-12-04', 10, 1, 0, 0, 0, 0, 0),"  # right: one user, nothing done
        " (%(c)s, '2026-12-04', 11, 2, 0, 0, 0, 0, 0)",  # wrong: two users
        {"c": cafe},
    )
    verdict = invariants_data.analytics(pg)
    assert verdict.checked == 2
    assert len(verdict.violations) == 1
    assert "11h: ['total_users 2 != 1']" in verdict.violations[0]
