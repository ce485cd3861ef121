"""Refused requests in the log: who tried, once per uid and minute, then how many more."""

from __future__ import annotations

from loguru import logger

from brewd.control.peer import Peer
from brewd.control.refusals import RefusalLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_refusals_of_one_uid_are_one_line_then_a_count() -> None:
    clock = Clock()
    log = RefusalLog(interval=60.0, clock=clock)
    seen: list[str] = []
    sink = logger.add(seen.append, format="{message}")
    try:
        mallory, eve = Peer(pid=42, uid=4242, gid=4343), Peer(pid=7, uid=777, gid=778)
        for _ in range(1000):
            log.refused(mallory, "POST", "/api/scheduler/trigger/expireUsers", "not allowed")
        log.refused(eve, "POST", "/api/scheduler/jobs/expireUsers/pause", "not allowed")
        clock.now += 61.0
        log.refused(mallory, "POST", "/api/scheduler/trigger/expireUsers", "not allowed")
        log.refused(None, "POST", "/api/scheduler/trigger/expireUsers", "no credentials")
    finally:
        logger.remove(sink)
    assert seen == [
        "refused POST /api/scheduler/trigger/expireUsers from uid 4242 gid 4343 pid 42: "
        "not allowed\n",
        "refused POST /api/scheduler/jobs/expireUsers/pause from uid 777 gid 778 pid 7: "
        "not allowed\n",
        "refused POST /api/scheduler/trigger/expireUsers from uid 4242 gid 4343 pid 42: "
        "not allowed (and 999 more from this uid since the last line)\n",
        "refused POST /api/scheduler/trigger/expireUsers from a peer without credentials: "
        "no credentials\n",
    ]


def test_a_named_user_is_named() -> None:
    seen: list[str] = []
    sink = logger.add(seen.append, format="{message}")
    try:
        RefusalLog().refused(Peer(pid=1, uid=0, gid=0), "POST", "/x", "why")
    finally:
        logger.remove(sink)
    assert seen == ["refused POST /x from uid 0 (root) gid 0 pid 1: why\n"]
