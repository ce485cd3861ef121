"""One brewd node in a process of its own, for the multi-node proactiveMessages tests and the
benchmark: the real Runner, pool, ledger and Claude writer, firing one proactiveMessages slot.

It builds everything, prints "ready", waits for a line on stdin (so all nodes fire together),
fires the slot through Runner.submit_slot (the claimer runs it, the others join), waits for the
work to end and prints "done". Run: python -m tests.integration.jobs.proactive_node --help
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from loguru import logger

from brewd.adapters.cache import make_client
from brewd.adapters.claude import ClaudeWriter
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.core.config import (
    Config,
    DatabaseConfig,
    JobConfig,
    ProactiveConfig,
    RedisConfig,
    SchedulerConfig,
)
from brewd.jobs.proactive import messages as proactive_messages
from brewd.runs.ledger import Ledger
from brewd.runs.runner import Runner

NAME = proactive_messages.NAME


class SlotClock:
    """Wall time stands at the slot (every node judges the same instant); monotonic is real."""

    def __init__(self, slot: datetime) -> None:
        self.slot = slot

    def now(self) -> datetime:
        return self.slot

    def monotonic(self) -> float:
        return time.monotonic()


def config_from(args: argparse.Namespace) -> Config:
    proactive = ProactiveConfig(
        enabled=True,
        api_key="sk-ant-test-SECRET42",
        base_url=args.base_url,
        concurrency=args.concurrency,
        requests_per_minute=args.rpm,
        over_budget=args.over_budget,
        timeout=args.timeout,
        max_retries=args.max_retries,
        budget_nodes=args.nodes,
    )
    return Config(
        database=DatabaseConfig(
            url=args.dsn, pool_min_size=2, pool_max_size=args.concurrency + 4, connect_timeout=10
        ),
        redis=RedisConfig(url=args.redis),
        scheduler=SchedulerConfig(workers=2),
        proactive=proactive,
        jobs={**Config().jobs, NAME: JobConfig(schedule=args.schedule, timeout=args.job_timeout)},
    )


def main() -> None:
    args = _parser().parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    config = config_from(args)
    db = Database(config.database)
    db.open(wait=True)
    claude = _writer(config.proactive, args.node)
    runner = Runner(
        db=db,
        cache=make_client(config.redis),
        ledger=Ledger(db, args.node),
        metrics=Metrics(),
        jobs={NAME: proactive_messages},
        clock=SlotClock(datetime.fromisoformat(args.slot)),
        config=lambda: config,
        claude=claude,
    )
    print("ready", flush=True)
    sys.stdin.readline()
    runner.submit_slot(NAME, datetime.fromisoformat(args.slot), "schedule", time.monotonic() + 600)
    runner.drain(args.job_timeout + 120)
    runner.shutdown(5)
    print("done", flush=True)
    db.close()


def _writer(settings: ProactiveConfig, node: str) -> ClaudeWriter:
    """brewd's writer, as make_claude builds it, whose requests also name their node, so a test
    can tell which node has calls in flight."""
    import anthropic

    client = anthropic.Anthropic(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=0,
        default_headers={"x-test-node": node},
    )
    return ClaudeWriter(
        client,
        model=settings.model,
        max_tokens=settings.max_tokens,
        max_retries=settings.max_retries,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--slot", required=True, help="ISO 8601, aware")
    parser.add_argument("--node", required=True)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rpm", type=int, default=0)
    parser.add_argument("--over-budget", default="template")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-retries", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--schedule", default="*/2 * * * *")
    parser.add_argument("--job-timeout", type=float, default=600.0)
    return parser


if __name__ == "__main__":
    main()
