"""brewctl at a glance: `runs` (durations drawn), `watch` (status refreshed in place), `logs`
(journalctl with brewd's fields) and the job names shell completion asks for."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from brewd.cli import render, runs_view
from brewd.cli.answers import StatusJson
from brewd.cli.client import ControlClient, DaemonUnreachable, Reply

# The six jobs of SPEC §4: what `logs` accepts and completion offers when no daemon answers.
BUILTIN_JOBS = (
    "expireUsers",
    "expireBadges",
    "calculateBadges",
    "expirePokes",
    "aggregateAnalytics",
    "proactiveMessages",
)
CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen: one frame replaces the last
EXIT_UNKNOWN_JOB = 3  # as brewd.cli.brewctl's fixed codes
EXIT_NO_JOURNALCTL = 127  # the shell's "command not found"
COMPLETION_TIMEOUT_S = 2.0  # a shell waiting on a Tab press must not hang on a stuck daemon


def use_colour(stream: TextIO, environ: Any = os.environ) -> bool:
    """Colour only for a person at a terminal (https://no-color.org honoured)."""
    return stream.isatty() and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


def all_runs(client: ControlClient, limit: int) -> tuple[Reply, dict[str, Any] | None]:
    """Every job's recent runs: the status reply (for its errors), then runs by job name."""
    status = client.request("GET", "/api/scheduler/status")
    if status.status >= 400 or not isinstance(status.body, dict):
        return status, None
    runs: dict[str, Any] = {}
    for job in status.body.get("jobs") or []:
        name = str(job.get("name"))
        path = client.job_path("/api/scheduler/jobs/{job}/runs", name)
        reply = client.request("GET", path, {"limit": str(limit)})
        runs[name] = reply.body if reply.status < 400 else []
    return status, runs


def print_overview(runs: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:  # each job's answer of GET /api/scheduler/jobs/{job}/runs, unchanged
        print(json.dumps(runs))
    else:
        print(runs_view.overview(runs, colour=use_colour(sys.stdout)))


def watch(client: ControlClient, args: argparse.Namespace) -> int:
    """Redraw the status table every interval until Ctrl-C (exit 0). While the daemon is away
    the frame says why in one line and watch keeps trying, as watch(1) would."""
    live = sys.stdout.isatty()
    try:
        while True:
            frame = _frame(client, args)
            sys.stdout.write((CLEAR if live else "") + frame + "\n" + ("" if live else "\n"))
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return 0


def _frame(client: ControlClient, args: argparse.Namespace) -> str:
    now = datetime.now(UTC)
    header = (
        f"Every {args.interval:g}s: brewctl status    {socket.gethostname()}: "
        f"{now.astimezone().strftime(render.TIME_FORMAT)}"
    )
    try:
        reply = client.request("GET", "/api/scheduler/status")
    except DaemonUnreachable as exc:
        return f"{header}\n\nbrewctl: {exc}; retrying every {args.interval:g}s"
    if args.json:
        return reply.raw.decode("utf-8", "replace")
    if reply.status >= 400 or not isinstance(reply.body, dict):
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        return f"{header}\n\nbrewctl: {error or f'HTTP {reply.status}'}; retrying"
    status = cast(StatusJson, reply.body)  # a JSON object; render tolerates missing keys
    return f"{header}\n\n{render.status_table(status, now)}"


def logs(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Replace brewctl with journalctl, matching the job's (and run's) journal fields."""
    if args.job not in BUILTIN_JOBS:
        print(
            f"brewctl: unknown job {args.job!r} (available: {', '.join(BUILTIN_JOBS)})",
            file=sys.stderr,
        )
        return EXIT_UNKNOWN_JOB
    argv = ["journalctl", "-u", args.unit, f"BREWD_JOB={args.job}"]
    if args.run is not None:
        argv.append(f"BREWD_RUN_ID={args.run}")
    if args.follow:
        argv.append("-f")
    argv.extend(extra[1:] if extra[:1] == ["--"] else extra)
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)  # noqa: S606  (an argv list, no shell: journalctl from PATH)
    except FileNotFoundError:
        print(
            "brewctl: journalctl not found: brewd logs to the systemd journal; without systemd "
            "see logging.dir (combined.log)",
            file=sys.stderr,
        )
    return EXIT_NO_JOURNALCTL


def job_names(socket_path: str) -> list[str]:
    """For shell completion: the daemon's job names, else the built-in ones."""
    try:
        reply = ControlClient(socket_path, timeout=COMPLETION_TIMEOUT_S).request(
            "GET", "/api/scheduler/status"
        )
        names = [str(j["name"]) for j in reply.body["jobs"]]
    except (DaemonUnreachable, TypeError, KeyError, ValueError):
        return list(BUILTIN_JOBS)
    return names or list(BUILTIN_JOBS)
