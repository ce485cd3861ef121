"""The `brewd` command: run, db init, plan, check-config, demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from brewd import __version__
from brewd.config import Config, effective_values
from brewd.config_loader import load
from brewd.errors import BrewdError, ConfigError

# sysexits.h codes, so that systemd and scripts can tell failures apart. Errors carry their
# own (BrewdError.exit_code, brewd/errors.py): 65 data, 67 missing database or role, 68 host
# unresolvable, 69 unreachable, 77 authentication failed.
EX_OK = 0
EX_USAGE = 64
EX_CONFIG = 78  # systemd's RestartPreventExitStatus=78: a bad config must not restart-loop


class _Parser(argparse.ArgumentParser):
    """argparse whose bad command line exits EX_USAGE (64), as the epilog says, not 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer greater than 0")
    return int(text)


EPILOG = (
    "Exit status: 0 ok, 64 usage, 65 data conflict, 67 missing database or role, 68 database "
    "host unresolvable, 69 database unreachable, 70 internal error, 77 authentication failed, "
    "78 bad configuration."
)

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
    add(
        db_sub,
        "init",
        _cmd_db_init,
        "create or upgrade the schema (idempotent, safe on a live database)",
    )
    plan = add(
        sub,
        "plan",
        _cmd_plan,
        "the coming slots of every job in local time and UTC, with DST decisions",
    )
    plan.add_argument(
        "--hours", type=_positive_int, default=24, metavar="N", help="how far ahead (default 24)"
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
        help="configuration file (env BREWD_CONFIG; default /etc/brewd/brewd.toml)",
    )
    common.add_argument(
        "--log-level", metavar="LEVEL", help="trace, debug, info, warning, error (env LOG_LEVEL)"
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


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        overrides[key.strip()] = value
    if args.log_level:
        overrides["logging.level"] = args.log_level
    if args.socket:
        overrides["control.socket"] = args.socket
    return overrides


def load_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    return load(args.config, environ, _overrides(args))


def _cmd_check_config(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = load_config(args, environ)
    print(f"# configuration OK (file: {config.source or 'none, built-in defaults'})")
    for key, value in effective_values(config):
        print(f"{key} = {value}")
    return EX_OK


def _cmd_db_init(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.adapters.pg import connect_once
    from brewd.db import migrate

    config = load_config(args, environ)
    # One direct connection, no pool: a wrong password or name fails at once, in one line.
    with connect_once(config.database, application_name="brewd-db-init") as conn:
        conn.autocommit = True
        applied = migrate.apply(conn)
        version = migrate.current_version(conn)
    done = ", ".join(applied) if applied else "nothing to do"
    print(f"schema at version {version} ({done})")
    return EX_OK


def _cmd_run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = load_config(args, environ)  # first: a bad configuration exits before heavy imports
    from brewd.daemon import run_daemon

    return run_daemon(config, args, environ)


def _cmd_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.plan import print_plan

    return print_plan(load_config(args, environ), hours=args.hours)


def _cmd_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.demo import run_demo

    return run_demo(args, environ)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args, os.environ if environ is None else environ)
    except ConfigError as exc:
        print(f"brewd: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except BrewdError as exc:  # one line with the cause; the status says which kind
        print(f"brewd: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
