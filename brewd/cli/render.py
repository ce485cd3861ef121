"""brewctl's output for people: tables and sentences from the control API's JSON (pure;
its shapes: cli/answers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from brewd.cli.answers import DependencyJson, HealthJson, JobJson, RunJson, StatusJson

TIME_FORMAT = "%a %Y-%m-%d %H:%M:%S %Z"  # as systemctl list-timers


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def local(value: Any, tz: tzinfo | None = None) -> str:
    """An ISO 8601 time in local time (tz None: the system's), or n/a."""
    when = parse_time(value)
    return when.astimezone(tz).strftime(TIME_FORMAT) if when is not None else "n/a"


def timespan(seconds: float) -> str:
    """Like systemd: the two largest units, e.g. `1 day 2h`, `3h 4min`, `4min 12s`, `800ms`."""
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f}ms"
    days, rest = divmod(int(seconds), 86400)
    parts = [f"{days} day" + ("s" if days > 1 else "")] if days else []
    for name, size in (("h", 3600), ("min", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{name}")
    return " ".join(parts[:2])


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _job_row(job: JobJson, now: datetime, tz: tzinfo | None) -> list[str]:
    last = job.get("last_run") or {}
    next_run = parse_time(job.get("next_run"))
    if job.get("paused"):
        nxt, left = "paused", "-"
    elif next_run is None:
        nxt, left = "n/a", "n/a"
    else:
        nxt, left = local(job["next_run"], tz), timespan((next_run - now).total_seconds())
    last_time = last.get("started_at") or last.get("finished_at") or last.get("slot")
    state = "running" if job.get("running") else str(last.get("status") or "-")
    return [nxt, left, local(last_time, tz), state, str(job.get("name", "?"))]


def status_table(status: StatusJson, now: datetime, tz: tzinfo | None = None) -> str:
    """`brewctl status`: NEXT, LEFT, LAST, STATUS, JOB, soonest first, like list-timers."""
    jobs = status.get("jobs") or []
    rows = [_job_row(job, now, tz) for job in jobs]
    far = "~"  # sorts after any digit: paused and disabled jobs go last
    order = sorted(
        zip(jobs, rows, strict=True), key=lambda pair: str(pair[0].get("next_run") or far)
    )
    state = "running" if status.get("running") else "NOT running"
    database = status.get("database") or {}
    down = (
        f"\nDatabase DOWN: {database.get('error')}; last known runs shown."
        if database.get("up") is False
        else ""
    )
    return (
        table(["NEXT", "LEFT", "LAST", "STATUS", "JOB"], [row for _, row in order])
        + f"\n\n{len(jobs)} jobs listed. Scheduler {state} on {status.get('node')}, "
        f"time zone {status.get('timezone')}; times shown in local time.{down}"
    )


def _duration(record: RunJson) -> str:
    start, end = parse_time(record.get("started_at")), parse_time(record.get("finished_at"))
    return timespan((end - start).total_seconds()) if start and end else "-"


def runs_table(records: list[RunJson], tz: tzinfo | None = None) -> str:
    """`brewctl history`: newest first."""
    if not records:
        return "no runs recorded yet"
    rows = [
        [
            str(r.get("id")),
            local(r.get("started_at") or r.get("slot"), tz),
            _duration(r),
            str(r.get("trigger")),
            str(r.get("status")),
            "-" if r.get("attempts") is None else str(r["attempts"]),
            "-" if r.get("affected_records") is None else str(r["affected_records"]),
            _details(r),
        ]
        for r in records
    ]
    header = ["RUN", "STARTED", "DURATION", "TRIGGER", "STATUS", "ATTEMPTS", "AFFECTED", "DETAILS"]
    return table(header, rows)


def _details(record: RunJson) -> str:
    """The error (or message), and what a retried attempt failed with when it differs."""
    text = str(record.get("error") or record.get("message") or "")
    retried = record.get("last_error")
    if retried and retried != record.get("error"):
        text = f"{text}; retried after: {retried}" if text else f"retried after: {retried}"
    return text


def run_sentence(record: RunJson) -> str:
    """One line for a finished manual run."""
    job, status, took = record.get("job"), record.get("status"), _duration(record)
    if status == "succeeded":
        count = record.get("affected_records")
        what = f", {count} records" if count is not None else ""
        note = f": {record['message']}" if record.get("message") else ""
        return f"{job} succeeded in {took}{what}{note} (run {record.get('id')})"
    reason = record.get("error") or record.get("message") or "no details"
    return f"{job} {status} after {took}: {reason} (run {record.get('id')})"


def _dependency(name: str, dep: DependencyJson) -> str:
    if dep.get("up"):
        latency = dep.get("latency_ms")
        return f"  {name:<10} up    {latency:.1f} ms" if latency is not None else f"  {name:<10} up"
    return f"  {name:<10} DOWN  {dep.get('error') or ''}".rstrip()


def health_text(health: HealthJson) -> str:
    """`brewctl health`: a headline, then one line per dependency and the scheduler."""
    sched = health.get("scheduler") or {}
    overdue = sched.get("overdue_jobs") or []
    age = sched.get("loop_age_s")
    loop = f"loop ran {age:.1f} s ago" if isinstance(age, int | float) else "loop not started"
    return "\n".join(
        [
            f"brewd {health.get('version')}: {health.get('status')} "
            f"(up {timespan(float(health.get('uptime_s') or 0))})",
            _dependency("database", health.get("database") or {}),
            _dependency("redis", health.get("redis") or {}),
            f"  {'scheduler':<10} {'running' if sched.get('running') else 'NOT running'}, "
            f"{'enabled' if sched.get('enabled') else 'disabled'}, {loop}, "
            + (f"overdue: {', '.join(overdue)}" if overdue else "no overdue jobs"),
        ]
    )
