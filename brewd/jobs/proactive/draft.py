"""proactiveMessages, the writing: Claude when it answers well, a built-in template otherwise."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from brewd.core.errors import ClaudeError
from brewd.jobs.proactive.rules import SYSTEM_PROMPT, reply_problem, template, user_prompt
from brewd.jobs.proactive.store import Cafe

if TYPE_CHECKING:
    from loguru import Logger


class Writer(Protocol):
    """What the job needs of brewd.adapters.claude.ClaudeWriter."""

    model: str

    def write(self, system: str, prompt: str) -> str: ...


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


def draft(writer: Writer | None, breaker: Breaker, plan: Plan, log: Logger) -> Draft:
    """Runs in a worker thread: touches no database connection, only the writer."""
    if writer is None:
        return _template(plan, None)  # no API key: templates by design, not a fallback
    if not breaker.allow():
        return _template(plan, "Claude unavailable")
    prompt = user_prompt(plan.cafe.name, plan.band, plan.trigger, plan.cafe.activity)
    try:
        text = writer.write(SYSTEM_PROMPT, prompt)
    except ClaudeError as exc:
        breaker.record(ok=False)
        log.bind(event="proactive_claude_failed").warning(f"café {plan.cafe.id}: {exc}")
        return _template(plan, "API error")
    breaker.record(ok=True)
    problem = reply_problem(text)
    if problem is not None:
        log.bind(event="proactive_reply_rejected").info(
            f"café {plan.cafe.id}: Claude's reply rejected ({problem}), using a template"
        )
        return _template(plan, "rejected reply")
    return Draft(plan, text.strip(), "claude", writer.model)


def _template(plan: Plan, fallback: str | None) -> Draft:
    return Draft(plan, template(plan.trigger, plan.seed), "template", None, fallback)
