"""The `brewd` command: run, db init, plan, check-config, demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from brewd import __version__
from brewd.cli.settings import Loaded, load_explained
from brewd.core.config import DEFAULT_CONFIG_PATH, Config
from brewd.core.errors import BrewdError, ConfigError, UsageError
from brewd.core.exits import EX_OK, EX_USAGE, MEANING
from brewd.core.masking import mask_secrets


class _Parser(argparse.ArgumentParser):
    """argparse whose bad command line exits EX_USAGE (64), as the epilog says, not 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


MAX_PLAN_HOURS = 8760  # a year: every DST change of every zone, in well under a second


def _plan_hours(text: str) -> int:
    # Bounded before conversion: int() of thousands of digits raises, a huge N ran for minutes.
    if not (len(text) <= 4 and text.isascii() and text.isdigit()) or not (
        1 <= int(text) <= MAX_PLAN_HOURS
    ):
        raise argparse.ArgumentTypeError(
            f"{text[:20]!r}: must be an integer from 1 to {MAX_PLAN_HOURS} (a year)"
        )
    return int(text)


EPILOG = "Exit status: " + ", ".join(f"{code} {text}" for code, text in MEANING.items()) + "."

Command = Callable[[argparse.Namespace, Mapping[str, str]], int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="brewd",
        description="Background-jobs daemon of Brew Me In: expiry, badges, analytics and the "
        "café host, on a cron schedule, exactly once per slot across nodes.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"brewd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_common_options()]

    def add(
        parent: argparse._SubParsersAction[_Parser], name: str, func: Command, text: str
    ) -> argparse.ArgumentParser:
        command = parent.add_parser(
            name, parents=common, help=text, description=text, epilog=EPILOG
        )
        command.set_defaults(func=func)
        return command

    add(sub, "run", _cmd_run, "run the daemon in the foreground (what systemd starts)")
    db = sub.add_parser("db", help="database schema", description="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    init = add(
        db_sub,
        "init",
        _cmd_db_init,
        "create or upgrade the schema, or adopt the original's database "
        "(idempotent, safe on a live database)",
    )
    init.add_argument(
        "--dry-run",
        action="store_true",
        help="print every change (SQL, lock, rows) and change nothing",
    )
    plan = add(
        sub,
        "plan",
        _cmd_plan,
        "the coming slots of every job in local time and UTC, with DST decisions",
    )
    plan.add_argument(
        "--hours",
        type=_plan_hours,
        default=24,
        metavar="N",
        help=f"how far ahead, 1 to {MAX_PLAN_HOURS} (default 24)",
    )
    add(
        sub,
        "check-config",
        _cmd_check_config,
        "validate the configuration and print the effective values, secrets masked",
    )
    add(
        sub,
        "demo",
        _cmd_demo,
        "zero-setup demo: real servers, a café world, every job run once, then the daemon",
    )
    return parser


def _common_options() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        help=f"configuration file (env BREWD_CONFIG; default {DEFAULT_CONFIG_PATH})",
    )
    common.add_argument(
        "--log-level",
        metavar="LEVEL",
        help="trace, debug, info, warning, error; winston's warn, http, verbose, silly too "
        "(env LOG_LEVEL)",
    )
    common.add_argument(
        "--socket", metavar="PATH", help="control socket path (env BREWD_CONTROL_SOCKET)"
    )
    common.add_argument(
        "--set",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        help="override any setting (env BREWD_SECTION_KEY), "
        "e.g. --set scheduler.timezone=Europe/Paris",
    )
    return common


FLAGS = {"logging.level": "--log-level", "control.socket": "--socket"}


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not (sep and dot and section and name):
            shown = mask_secrets(item)[:80]
            raise UsageError(f"--set {shown!r}: expected SECTION.KEY=VALUE")
        overrides[key.strip()] = value
    if args.log_level:
        overrides["logging.level"] = args.log_level
    if args.socket:
        overrides["control.socket"] = args.socket
    return overrides


def load_explained_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Loaded:
    return load_explained(args.config, environ, _overrides(args), FLAGS)


def load_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    return load_explained_config(args, environ).config


def _cmd_check_config(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.cli.check_config import render

    print(render(load_explained_config(args, environ), environ))
    return EX_OK


def _cmd_db_init(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.adapters.logs import setup_logging
    from brewd.adapters.pg import connect_once
    from brewd.db import init

    config = load_config(args, environ)
    # One direct connection, no pool: a wrong password or name fails at once, in one line.
    with connect_once(config.database, application_name="brewd-db-init") as conn:
        conn.autocommit = True
        # After the connection: a refused connection stays the one line main() prints.
        setup_logging(config.logging, environ)
        init.run(
            conn,
            legacy_timezone=config.database.legacy_timezone,
            dry_run=args.dry_run,
            say=lambda line: print(line, flush=True),
        )
    return EX_OK


def _cmd_run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = load_config(args, environ)  # first: a bad configuration exits before heavy imports
    from brewd.daemon import run_daemon

    return run_daemon(config, environ, load_config=lambda: load_config(args, environ))


def _cmd_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.cli.plan import print_plan

    return print_plan(load_config(args, environ), hours=args.hours)


def _cmd_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.demo.command import run_demo

    # The demo reads the configuration from its own environment (its servers' URLs added);
    # a log level given by flag or LOG_LEVEL keeps the demo's log as loud as asked.
    return run_demo(
        environ,
        load_config=lambda env: load_config(args, env),
        loud=bool(args.log_level or environ.get("LOG_LEVEL")),
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args, os.environ if environ is None else environ)
    except BrewdError as exc:  # one line with the cause; its sysexits status says which kind
        print(f"brewd: {_kind(exc)}{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _kind(exc: BrewdError) -> str:
    """What the one line starts with, for the errors whose message does not say it itself."""
    if isinstance(exc, ConfigError):
        return "configuration error: "
    if isinstance(exc, UsageError):
        return "usage error: "
    return ""
