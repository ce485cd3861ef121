"""The status page at / in real headless Chromium, against a running daemon: every job shown,
failures and missed slots with their text, no console error, nothing run from the database's
text; a screenshot kept as an artifact (BREWD_TEST_ARTIFACTS, else the test's tmp dir)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from brewd.jobs import ALL_JOBS
from tests.acceptance.chromium import Chromium, open_page
from tests.acceptance.conftest import WebDaemon

# A run error as hostile as a database can hold: markup that would run a script if the page
# ever parsed it as HTML.
HOSTILE = '<img src=x onerror="window.pwned=1"><b id="injected">boom</b> & </pre><script>x</script>'


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path).start()
    try:
        yield chromium
    finally:
        chromium.stop()


def artifact_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("BREWD_TEST_ARTIFACTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def record_failure_and_missed_slot(pg_dsn: str, node: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO job_runs (job, slot, trigger, node, started_at, finished_at, status,"
            " affected_records, error) VALUES ('calculateBadges', NULL, 'manual', %s,"
            " now() - interval '2 s', now(), 'failed', 0, %s)",
            (node, HOSTILE),
        )
        # a slot recorded missed while paused (the start-up's own missed slots depend on the hour)
        conn.execute(
            "INSERT INTO job_runs (job, slot, trigger, node, status, message, finished_at)"
            " VALUES ('expireBadges', date_trunc('day', now()) - interval '1 day', 'schedule',"
            " %s, 'missed', 'missed: paused', now())",
            (node,),
        )


BARS = "document.querySelectorAll('#jobs tr[data-job=\"expirePokes\"] svg rect').length"


async def inspect(browser: Chromium, url: str, shot: Path, daemon: WebDaemon) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        page = await open_page(browser, session, url)
        await page.wait_for("document.body !== null && document.body.dataset.rendered === 'yes'")
        # It refreshes by itself: a run that ends after the page loaded appears without reload.
        bars = await page.evaluate(BARS)
        await asyncio.to_thread(daemon.trigger, "expirePokes")
        await page.wait_for(f"{BARS} > {bars}", timeout=60)
        found = await page.evaluate(
            """({
            jobs: [...document.querySelectorAll('#jobs tr[data-job]')].map(r => r.dataset.job),
            bars: document.querySelectorAll('#jobs svg rect').length,
            outcomes: [...document.querySelectorAll('#jobs tr[data-job] .pill')]
                .map(p => p.textContent),
            failures: document.querySelector('#failures tbody').textContent,
            missed: document.querySelector('#missed tbody').textContent,
            nodes: document.querySelector('#nodes tbody').textContent,
            injected: document.getElementById('injected') !== null || window.pwned === 1,
            health: document.getElementById('overall').textContent,
        })"""
        )
        await page.screenshot(shot)
        await asyncio.sleep(0)  # let the reader deliver any event that came with the answers
        found["errors"] = list(page.errors)
        await page.ws.close()
        page.reader.cancel()
        return dict(found)


def test_the_status_page_renders_the_daemons_jobs(
    web_daemon: WebDaemon, browser: Chromium, pg_dsn: str, tmp_path: Path
) -> None:
    assert web_daemon.trigger("expireUsers").status == 200
    status = web_daemon.request("GET", "/api/scheduler/status").body
    record_failure_and_missed_slot(pg_dsn, status["node"])
    shot = artifact_dir(tmp_path) / "status-page.png"
    found = asyncio.run(inspect(browser, f"{web_daemon.url}/", shot, web_daemon))
    print(f"status page screenshot: {shot}")
    assert found["errors"] == []
    assert found["jobs"] == list(ALL_JOBS)
    assert found["bars"] >= len(ALL_JOBS)  # every job has at least one run or recorded slot
    assert "succeeded" in found["outcomes"]
    assert found["health"] in ("healthy", "degraded")
    assert HOSTILE in found["failures"]  # shown as text, exactly
    assert found["injected"] is False
    assert "missed: paused" in found["missed"]
    assert status["node"] in found["nodes"]
    assert shot.stat().st_size > 10_000
