"""The scheduling loop: one tick per wake-up decides what is due, dispatches it to the runner,
records what was missed, and keeps the watchdog fed only while it really fires."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from loguru import logger

from brewd.adapters.systemd import StatusNotifier
from brewd.core.catchup import catch_up, catchup_grace, trigger_for
from brewd.core.config import Config
from brewd.core.cron import CronSpec, latest_slot, next_slot, nominal_period
from brewd.core.errors import DatabaseError, DatabaseUnavailable
from brewd.loop.ahead import AheadSlots
from brewd.loop.housekeeping import Housekeeping
from brewd.loop.ticker import Ticker
from brewd.loop.watchdog import STALLED_AFTER_S, Watchdog, overdue_jobs
from brewd.runs.history import History
from brewd.runs.records import Missed, Records
from brewd.runs.retry import MIN_RUN_WINDOW_S, next_slot_at
from brewd.runs.runner import Runner

# At start, after a clock jump and whenever the loop fell behind, each job judges the slots
# since its last record by the catch-up policy (brewd/core/catchup.py).
CLOCK_JUMP_TOLERANCE_S = 5.0  # wall clock vs monotonic disagreement that counts as a jump
MAX_SLEEP_S = 300.0
RESYNC_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # retrying the start-up catch-up, database down
ONE_US = timedelta(microseconds=1)


@dataclass
class JobPlan:
    """The loop's state for one job."""

    name: str
    spec: CronSpec
    enabled: bool
    next_due: datetime | None = None
    last_handled: datetime | None = None  # the newest slot already dispatched or recorded


class Scheduler:
    """Owns the loop; the runner owns execution; control/service.py serves it to the API."""

    def __init__(
        self,
        *,
        config: Config,
        runner: Runner,
        records: Records,
        history: History,
        housekeeping: Housekeeping,
        ticker: Ticker,
        notifier: StatusNotifier | None = None,
    ) -> None:
        """Built by brewd/daemon.py (`build_scheduler`), which wires what it drives."""
        self.runner, self.records, self.history = runner, records, history
        self.housekeeping, self.ticker, self.notifier = housekeeping, ticker, notifier
        self.node, self.jobs, self.clock = runner.claims.node, runner.jobs, runner.clock
        self.db, self.cache, self.metrics = runner.db, runner.cache, runner.metrics
        self._config = config
        self.plans = self._make_plans(config)
        self.ahead = AheadSlots()  # slots passed before the database's clock reached them
        self.synced = False  # the start-up catch-up against the ledger has been done
        self._resync_attempt = 0
        self._next_resync = 0.0
        self._last_wall: datetime | None = None
        self._last_mono = 0.0
        self.watchdog = Watchdog(notifier)
        self.loop_beat = self.clock.monotonic()  # last time the loop went round
        self.started = self.clock.monotonic()
        self._pending_config: Config | None = None

    def config(self) -> Config:
        return self._config

    def _make_plans(self, config: Config) -> dict[str, JobPlan]:
        plans = {}
        for name in self.jobs:
            settings = config.jobs[name]
            spec = CronSpec(settings.schedule, config.tz)
            plans[name] = JobPlan(name, spec, settings.enabled and config.scheduler.enabled)
        return plans

    # -- one tick: pure decisions on `now`, effects through the runner and the ledger ------------
    def tick(self, now: datetime, reason: str = "late") -> None:
        """Dispatch every slot due at `now`. The first tick (and any after the database came
        back) catches up against the ledger instead."""
        if not self.synced:
            self._sync(now)
            return
        for plan in self.plans.values():  # synced: every plan has its next_due
            if plan.next_due is not None and plan.next_due <= now:
                self._handle(plan, plan.last_handled or plan.next_due - ONE_US, now, reason)
        for job, kept_reason, slots in self.ahead.settle(now):
            self._record_missed(job, slots, len(slots), kept_reason, now, self.ahead.settled_after)

    def start_from_now(self, now: datetime) -> None:
        """Skip the start-up catch-up: the schedule starts at the next slot (the demo has just
        run every job by hand)."""
        for plan in self.plans.values():
            plan.next_due = next_slot(plan.spec, now)
            plan.last_handled = latest_slot(plan.spec, now)
        self.synced = True

    def _sync(self, now: datetime) -> None:
        """Catch up every job from its newest record in the ledger (any node's)."""
        mono = self.clock.monotonic()
        if mono < self._next_resync:
            return
        try:
            last = self.history.last_slots(until=now)
            paused = self.history.paused()
        except DatabaseError as exc:
            delay = RESYNC_BACKOFF_S[min(self._resync_attempt, len(RESYNC_BACKOFF_S) - 1)]
            self._resync_attempt += 1
            self._next_resync = mono + delay
            if not isinstance(exc, DatabaseUnavailable):  # an outage is logged once, by the state
                logger.bind(event="sync_failed").warning("cannot read the ledger: {}", exc)
            return
        for plan in self.plans.values():
            latest = latest_slot(plan.spec, now)
            since = last.get(plan.name) or ((latest - ONE_US) if latest else now)
            reason = "paused" if plan.name in paused else "downtime"
            self._handle(plan, since, now, reason, start_up=True)
        self.synced, self._resync_attempt = True, 0

    def _handle(
        self, plan: JobPlan, since: datetime, now: datetime, reason: str, start_up: bool = False
    ) -> None:
        """Slots of `plan` in (since, now]: the latest runs if within grace, the rest missed."""
        plan.next_due = next_slot(plan.spec, now)
        if not plan.enabled:
            plan.last_handled = latest_slot(plan.spec, now)
            return
        grace = catchup_grace(
            plan.spec, now, timedelta(seconds=self._config.scheduler.max_catchup_grace)
        )
        decision = catch_up(
            plan.spec, since, now, grace, min_window=timedelta(seconds=MIN_RUN_WINDOW_S)
        )
        # Everything in (since, now] is now run or recorded; never move backwards.
        plan.last_handled = max(since, latest_slot(plan.spec, now) or since)
        if decision.missed_total:
            missed = list(decision.missed)
            self._record_missed(plan.name, missed, decision.missed_total, reason, now)
        if decision.run is not None:
            trigger = trigger_for(decision.run, now, start_up)
            self.metrics.schedule_lag(plan.name, max((now - decision.run).total_seconds(), 0.0))
            # Real monotonic time, like the run's own window it bounds.
            ends = next_slot_at(plan.next_due, now, time.monotonic())
            self.runner.submit_slot(plan.name, decision.run, trigger, ends)

    def _record_missed(
        self,
        job: str,
        slots: list[datetime],
        total: int,
        reason: str,
        now: datetime,
        settled_after: timedelta = timedelta(0),
    ) -> None:
        """Record `slots` (the newest of `total`) missed; those still ahead of the database's
        clock are kept (brewd/loop/ahead.py), not missed yet."""
        message = f"missed: {reason}"
        if total > len(slots):
            message += f" ({total} slots in all; the oldest {total - len(slots)} not recorded)"
        try:
            result = self.records.record_missed(job, slots, message, settled_after)
        except DatabaseError as exc:
            result = Missed(len(slots), [], None)  # unknown: count them all, never hide a loss
            logger.bind(job=job, event="record_failed").warning(
                "cannot record missed slots: {}", exc
            )
        if result.ahead:
            self._keep_ahead(job, result, reason, now)
        # Slots another node ran or recorded meanwhile (this node was stalled) were not missed.
        total -= len(slots) - result.inserted
        if total <= 0:
            return
        self.metrics.missed(job, reason, total)
        logger.bind(job=job, event="slot_missed").warning(
            "{}: {} slot(s) missed ({}), newest {}", job, total, reason, slots[-1] if slots else "?"
        )

    def _keep_ahead(self, job: str, result: Missed, reason: str, now: datetime) -> None:
        fresh = self.ahead.keep(job, result, reason, now)
        if fresh:
            logger.bind(job=job, event="slots_ahead").warning(
                "{}: this node's clock is {:+.0f}s ahead of the database's; {} slot(s) up to {}"
                " left to the node whose clock reaches them (recorded missed {:.0f}s after, if"
                " none does)",
                job,
                self.ahead.offset.total_seconds(),
                len(fresh),
                fresh[-1],
                self.ahead.settled_after.total_seconds(),
            )

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Until `stop`: tick, housekeeping, watchdog, then sleep until the next due slot."""
        while not stop.is_set():
            now, mono = self.clock.now(), self.clock.monotonic()
            jumped = self.detect_clock_jump(now, mono)
            try:
                self.apply_pending_config(now)
                self.tick(now, "clock_jump" if jumped else "late")
                self.housekeeping.run(mono, self._config)
                self._publish_next_runs(now)
            except Exception as exc:  # the loop must survive anything a tick does
                logger.bind(event="tick_failed").opt(exception=exc).error("tick failed: {}", exc)
            self.loop_beat = mono
            self.feed_watchdog(now, mono)
            if stop.is_set():
                break
            now, mono = self.clock.now(), self.clock.monotonic()  # this turn's work took time
            self.ticker.arm(self.seconds_to_sleep(now, mono))
            self.ticker.wait()

    def detect_clock_jump(self, now: datetime, mono: float) -> bool:
        previous, self._last_wall, elapsed = self._last_wall, now, mono - self._last_mono
        self._last_mono = mono
        if previous is None:
            return False
        drift = (now - previous).total_seconds() - elapsed
        if abs(drift) <= CLOCK_JUMP_TOLERANCE_S:
            return False
        self.metrics.clock_jump()
        logger.bind(event="clock_jump").warning("wall clock jumped by {:+.0f}s; re-planning", drift)
        if drift < 0:  # backwards: slots up to last_handled never run twice; re-plan from there
            for plan in self.plans.values():
                plan.next_due = next_slot(plan.spec, max(now, plan.last_handled or now))
                # ...but slots passed while the clock was ahead, and never recorded, are due again.
                handed_back = self.ahead.hand_back(plan.name, now)
                if handed_back:
                    plan.last_handled = handed_back[0] - ONE_US
                    plan.next_due = handed_back[0]
        return True

    def seconds_to_sleep(self, now: datetime, mono: float) -> float:
        dues = [p.next_due for p in self.plans.values() if p.next_due is not None and p.enabled]
        delay = min([(d - now).total_seconds() for d in dues], default=MAX_SLEEP_S)
        delay = min(delay, MAX_SLEEP_S, self.housekeeping.due_in(mono))
        settle_in = self.ahead.due_in(now)
        if settle_in is not None:
            delay = min(delay, settle_in)
        if not self.synced:
            delay = min(delay, max(self._next_resync - mono, 0.0))
        ping_in = self.watchdog.due_in(mono)
        if ping_in is not None:
            delay = min(delay, ping_in)
        return max(delay, 0.0)

    def _publish_next_runs(self, now: datetime) -> None:
        for plan in self.plans.values():
            self.metrics.declare_job(plan.name)
            self.metrics.set_next_run(plan.name, plan.next_due if plan.enabled else None)
            period = nominal_period(plan.spec, now).total_seconds() if plan.enabled else 0.0
            self.metrics.set_period(plan.name, period)

    def overdue(self, now: datetime) -> list[str]:
        """What starves the watchdog (brewd/loop/watchdog.py), also shown by /health."""
        due = [
            (p.name, p.spec, p.next_due)
            for p in self.plans.values()
            if p.enabled and p.next_due is not None
        ]
        stalled = self.runner.stalled(older_than=STALLED_AFTER_S)
        cap = timedelta(seconds=self._config.scheduler.max_catchup_grace)
        return overdue_jobs(due, stalled, now, cap)

    def feed_watchdog(self, now: datetime, mono: float) -> None:
        """WATCHDOG=1 if due and nothing is overdue; the status line either way."""
        if self.notifier is None:
            return
        self.watchdog.feed(mono, self.overdue(now))
        self.notifier.status(self.status_line(now))

    def status_line(self, now: datetime) -> str:
        upcoming = [(p.next_due, p.name) for p in self.plans.values() if p.enabled and p.next_due]
        if not upcoming:
            head = "scheduler disabled" if not self._config.scheduler.enabled else "no job enabled"
        else:
            when, name = min(upcoming)
            head = f"next: {name} in {max(int((when - now).total_seconds()), 0)}s"
        parts = [head, f"{self.housekeeping.failures_last_hour} failed in the last hour"]
        degraded = self.housekeeping.degraded()
        if not self.synced and "database" not in degraded:
            degraded.insert(0, "database")
        if degraded:
            parts.append("degraded: " + ", ".join(degraded))
        return "; ".join(parts)

    def wake(self) -> None:
        self.ticker.poke()

    def reload(self, config: Config) -> None:
        """Take a new configuration at the loop's next turn (the loop owns the plans)."""
        self._pending_config = config
        self.wake()

    def apply_pending_config(self, now: datetime) -> None:
        config, self._pending_config = self._pending_config, None
        if config is None:
            return
        old, self._config = self.plans, config
        self.runner.reconfigure(config)
        self.plans = self._make_plans(config)
        for name, plan in self.plans.items():
            before = old.get(name)
            unchanged = before is not None and before.spec == plan.spec
            # A new schedule starts from now: its earlier slots were never promised.
            plan.last_handled = (
                before.last_handled if unchanged and before else latest_slot(plan.spec, now)
            )
            plan.next_due = next_slot(plan.spec, now)
            if not unchanged:
                self.ahead.forget(name)
