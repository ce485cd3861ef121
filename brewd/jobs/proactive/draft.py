"""proactiveMessages, the writing: Claude when it answers well, a built-in template otherwise."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from brewd.adapters.claude import Writer
from brewd.core.errors import ClaudeError
from brewd.jobs.proactive.rules import SYSTEM_PROMPT, reply_problem, template, user_prompt
from brewd.jobs.proactive.store import Cafe

if TYPE_CHECKING:
    from loguru import Logger


OVER_BUDGET = "over budget"  # the fallback reason of a café the budget could not reach
# Between tries of a failed call that named no retry-after: 0.5 s, then 1 s, 2 s ... at most 8 s.
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


class Gate(Protocol):
    """The shared budget, as one call sees it (brewd.jobs.proactive.workers.BudgetGate)."""

    def admit(self) -> bool:
        """Wait for the budget; False when it cannot be had within the slot."""
        ...

    def pause(self, seconds: float) -> None:
        """A 429 with retry-after: every node's calls wait that long."""
        ...

    def wait(self, seconds: float) -> None:
        """Wait before this call's next try (a backoff); other calls go on."""
        ...


@dataclass(frozen=True)
class Plan:
    """A café that gets a message this run, and why."""

    cafe: Cafe
    trigger: str
    band: str  # local time-of-day band, for the prompt
    seed: str  # picks the template, reproducibly


@dataclass(frozen=True)
class Draft:
    """The text to post; `fallback` says why a template stood in for Claude, if it did."""

    plan: Plan
    text: str
    source: str  # 'claude' | 'template'
    model: str | None
    fallback: str | None = None


class Breaker:
    """Stops calling Claude for the rest of a run after `threshold` failures in a row, so an
    outage costs one wave of timeouts, not one timeout per café (and the run its deadline)."""

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold
        self._failures = 0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            return self._failures < self._threshold

    def record(self, ok: bool) -> None:
        with self._lock:
            self._failures = 0 if ok else self._failures + 1


def draft(writer: Writer | None, breaker: Breaker, plan: Plan, log: Logger, gate: Gate) -> Draft:
    """Touches no database connection, only the writer and the gate. Each try passes the gate
    (so retries count against the budget too); a 429 pauses every node through it."""
    if writer is None:
        return _template(plan, None)  # no API key: templates by design, not a fallback
    prompt = user_prompt(plan.cafe.name, plan.band, plan.trigger, plan.cafe.activity)
    for attempt in range(writer.max_retries + 1):
        if not breaker.allow():
            return _template(plan, "Claude unavailable")
        if not gate.admit():
            return _template(plan, OVER_BUDGET)
        try:
            text = writer.write(SYSTEM_PROMPT, prompt)
        except ClaudeError as exc:
            if exc.rate_limited and exc.retry_after is not None:
                gate.pause(exc.retry_after)
            if exc.retryable and attempt < writer.max_retries:
                if not exc.rate_limited:  # after a 429 the shared pause is the wait
                    gate.wait(exc.retry_after or BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                continue
            breaker.record(ok=False)
            log.bind(event="proactive_claude_failed").warning(f"café {plan.cafe.id}: {exc}")
            return _template(plan, "API error")
        breaker.record(ok=True)
        return _checked(plan, text, writer.model, log)
    raise AssertionError("unreachable: the last try returns")


def _checked(plan: Plan, text: str, model: str, log: Logger) -> Draft:
    problem = reply_problem(text)
    if problem is not None:
        log.bind(event="proactive_reply_rejected").info(
            f"café {plan.cafe.id}: Claude's reply rejected ({problem}), using a template"
        )
        return _template(plan, "rejected reply")
    return Draft(plan, text.strip(), "claude", model)


def _template(plan: Plan, fallback: str | None) -> Draft:
    return Draft(plan, template(plan.trigger, plan.seed), "template", None, fallback)
