"""`brewctl`: the operator's client of the control socket; parsing and printing, no logic."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from brewd import __version__
from brewd.cli import glance as cli_glance
from brewd.cli import render, runs_view
from brewd.cli.client import DEFAULT_SOCKET, ControlClient, DaemonUnreachable, Reply

# Fixed exit codes: scripts and monitoring rely on them (documented in --help and README).
EXIT_OK = 0
EXIT_JOB_FAILED = 1  # the job ran and failed (trigger)
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_UNKNOWN_JOB = 3
EXIT_ALREADY_RUNNING = 4
EXIT_PERMISSION_DENIED = 5
EXIT_UNREACHABLE = 6  # no daemon on the socket, or the socket is not accessible
EXIT_DAEMON_ERROR = 7  # the daemon answered with an error: unhealthy, database unavailable

EPILOG = """exit status:
  0  success
  1  the job ran and failed (trigger)
  2  usage error
  3  unknown job
  4  the job is already running
  5  permission denied (trigger, pause, resume need root, brewd's user or the brewd group)
  6  daemon unreachable (not running, wrong --socket, or no access to the socket)
  7  the daemon reported an error (health: unhealthy; database unavailable)
  127 logs: journalctl not found
watch exits 0 on Ctrl-C; while the daemon is away it says why and keeps trying."""

# The daemon's answer as an exit status; a trigger's run outcome became its HTTP status in
# brewd/control/trigger.py (OUTCOME_HTTP: succeeded 200, failed 500, skipped 409).
HTTP_EXIT = {400: EXIT_USAGE, 403: EXIT_PERMISSION_DENIED, 404: EXIT_UNKNOWN_JOB}
HTTP_EXIT |= {409: EXIT_ALREADY_RUNNING, 500: EXIT_JOB_FAILED}

Command = Callable[[ControlClient, argparse.Namespace], Reply]
# Commands that print for themselves and return the exit status (several requests, a loop,
# or an exec); they also get the arguments argparse did not know (logs passes them on).
Action = Callable[[ControlClient, argparse.Namespace, list[str]], int]


def _limit(text: str) -> int:
    # Bounded before conversion: int() of thousands of digits raises (Python's digit limit).
    if not (len(text) <= 4 and text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer from 1 to 1000")
    return int(text)


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: must be seconds from 0.1 to 3600")
    return value


def _run_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a run id (a positive integer)")
    return int(text)


def _options(socket_default: str | None) -> argparse.ArgumentParser:
    """--socket and --json, accepted before or after the command (the latter wins)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--socket",
        metavar="PATH",
        default=socket_default if socket_default is not None else argparse.SUPPRESS,
        help=f"control socket (env BREWD_CONTROL_SOCKET; default {DEFAULT_SOCKET})",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=False if socket_default is not None else argparse.SUPPRESS,
        help="print the control API's JSON unchanged",
    )
    return common


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    socket = environ.get("BREWD_CONTROL_SOCKET") or DEFAULT_SOCKET
    parser = argparse.ArgumentParser(
        prog="brewctl",
        description="Control a running brewd: job status, health, manual runs, run history at a "
        "glance, pause and resume, a job's logs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_options(socket)],
    )
    parser.add_argument("--version", action="version", version=f"brewctl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_options(None)]

    def add(name: str, func: Command | None, text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            parents=common,
            help=text,
            description=text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.set_defaults(func=func)
        return command

    add("status", _status, "the jobs as a table: NEXT, LEFT, LAST, STATUS, JOB")
    add("health", _health, "database, Redis and scheduler health")
    trigger = add("trigger", _trigger, "run a job now and print its result")
    trigger.add_argument("job", metavar="JOB")
    trigger.add_argument(
        "--no-wait", action="store_true", help="return once the run is claimed, with its id"
    )
    history = add("history", _history, "recent runs of a job, newest first")
    history.add_argument("job", metavar="JOB")
    history.add_argument(
        "-n", type=_limit, default=20, metavar="N", help="how many runs, 1 to 1000 (default 20)"
    )
    pause = add("pause", _pause, "stop a job's scheduled runs, cluster-wide, surviving restarts")
    pause.add_argument("job", metavar="JOB")
    resume = add("resume", _resume, "restart a paused job's scheduled runs, cluster-wide")
    resume.add_argument("job", metavar="JOB")
    _add_glance(add)
    # Hidden (no help): job names for shell completion, from the daemon or the built-in six.
    sub.add_parser("_jobs", parents=common).set_defaults(action=_complete_jobs)
    return parser


def _add_glance(add: Callable[[str, Command | None, str], argparse.ArgumentParser]) -> None:
    runs = add(
        "runs",
        None,
        "recent runs with their durations drawn: a bar per run of JOB, "
        "or a sparkline per job without JOB",
    )
    runs.add_argument("job", metavar="JOB", nargs="?")
    runs.add_argument(
        "-n", type=_limit, default=20, metavar="N", help="runs per job, 1 to 1000 (default 20)"
    )
    runs.set_defaults(action=_runs)
    watch = add("watch", None, "the status table, refreshed in place until Ctrl-C")
    watch.add_argument(
        "-n",
        "--interval",
        type=_interval,
        default=2.0,
        metavar="SECONDS",
        help="seconds between refreshes, 0.1 to 3600 (default 2)",
    )
    watch.set_defaults(action=lambda client, args, extra: cli_glance.watch(client, args))
    logs = add(
        "logs",
        None,
        "a job's journal: runs journalctl -u brewd BREWD_JOB=JOB [BREWD_RUN_ID=ID]; "
        "other arguments go to journalctl (e.g. --since today, -o verbose)",
    )
    logs.add_argument("job", metavar="JOB")
    logs.add_argument("--run", type=_run_id, metavar="ID", help="only this run's entries")
    logs.add_argument("-f", "--follow", action="store_true", help="follow new entries")
    logs.add_argument("--unit", default="brewd", help="the systemd unit (default brewd)")
    logs.set_defaults(action=lambda client, args, extra: cli_glance.logs(args, extra))


def _status(client: ControlClient, args: argparse.Namespace) -> Reply:
    return client.request("GET", "/api/scheduler/status")


def _health(client: ControlClient, args: argparse.Namespace) -> Reply:
    return client.request("GET", "/health")


def _trigger(client: ControlClient, args: argparse.Namespace) -> Reply:
    path = client.job_path("/api/scheduler/trigger/{job}", args.job)
    query = {"wait": "false"} if args.no_wait else None
    return client.request("POST", path, query, wait=not args.no_wait)


def _history(client: ControlClient, args: argparse.Namespace) -> Reply:
    path = client.job_path("/api/scheduler/jobs/{job}/runs", args.job)
    return client.request("GET", path, {"limit": str(args.n)})


def _runs(client: ControlClient, args: argparse.Namespace, extra: list[str]) -> int:
    if args.job is not None:
        reply = _history(client, args)
        _print_reply("runs", reply, args)
        return exit_code("runs", reply)
    status, runs = cli_glance.all_runs(client, args.n)
    if runs is None:
        _print_reply("status", status, args)
        return exit_code("status", status)
    cli_glance.print_overview(runs, args)
    return EXIT_OK


def _complete_jobs(client: ControlClient, args: argparse.Namespace, extra: list[str]) -> int:
    print("\n".join(cli_glance.job_names(client.socket_path)))
    return EXIT_OK


def _pause(client: ControlClient, args: argparse.Namespace) -> Reply:
    return client.request("POST", client.job_path("/api/scheduler/jobs/{job}/pause", args.job))


def _resume(client: ControlClient, args: argparse.Namespace) -> Reply:
    return client.request("POST", client.job_path("/api/scheduler/jobs/{job}/resume", args.job))


def _for_people(command: str, reply: Reply, args: argparse.Namespace) -> str:
    body, now = reply.body, datetime.now(UTC)
    if command == "status":
        return render.status_table(body, now)
    if command == "health":
        return render.health_text(body)
    if command == "history":
        return render.runs_table(body)
    if command == "runs":
        return runs_view.job_runs(body, None, colour=cli_glance.use_colour(sys.stdout))
    if command == "trigger" and reply.status == 202:
        return f"{args.job} started as run {body.get('run_id')}; see `brewctl history {args.job}`"
    if command == "trigger":
        return render.run_sentence(body)
    if command == "pause":
        return (
            f"{args.job} paused cluster-wide: no scheduled runs until `brewctl resume {args.job}`"
        )
    if body.get("next_run") is None:
        return f"{args.job} resumed (no next run: the job or the scheduler is disabled)"
    return f"{args.job} resumed; next run {render.local(body['next_run'])}"


def exit_code(command: str, reply: Reply) -> int:
    """The fixed exit status for the daemon's answer."""
    if reply.status < 400:
        return EXIT_OK
    if command == "health" and reply.status == 503:
        return EXIT_DAEMON_ERROR  # unhealthy: the database is unreachable
    if reply.status == 500 and _error_of(reply.body) is not None:
        return EXIT_DAEMON_ERROR  # the daemon's last-resort 500, not a failed run's record
    return HTTP_EXIT.get(reply.status, EXIT_DAEMON_ERROR)


def _print_reply(command: str, reply: Reply, args: argparse.Namespace) -> None:
    if args.json:
        print(reply.raw.decode("utf-8", "replace"))
    elif not isinstance(reply.body, dict | list):
        print(f"brewctl: unexpected answer from brewd (HTTP {reply.status})", file=sys.stderr)
    elif reply.status >= 400 and (error := _error_of(reply.body)):
        print(f"brewctl: {error}", file=sys.stderr)
    else:
        print(_for_people(command, reply, args))


def _error_of(body: object) -> str | None:
    """The message of the API's error shape; a failed run's record (500) and an unhealthy
    health report (503) are not errors to print but answers to show."""
    if isinstance(body, dict) and set(body) <= {"error", "available_jobs"}:
        return str(body.get("error", "error"))
    return None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser(os.environ if environ is None else environ)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "logs":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    client = ControlClient(args.socket)
    try:
        action: Action | None = getattr(args, "action", None)
        if action is not None:
            return action(client, args, extra)
        func: Command = args.func
        reply = func(client, args)
    except DaemonUnreachable as exc:
        print(f"brewctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return 130
    _print_reply(args.command, reply, args)
    return exit_code(args.command, reply)
