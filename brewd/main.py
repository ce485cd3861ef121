"""The `brewd` command: run, db init, plan, check-config, demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from brewd import __version__
from brewd.config import Config, effective_values
from brewd.config_loader import load
from brewd.errors import BrewdError, ConfigError, DatabaseError

# sysexits.h codes, so that systemd and scripts can tell failures apart.
EX_OK = 0
EX_USAGE = 64
EX_UNAVAILABLE = 69  # the database (or another dependency) cannot be reached
EX_SOFTWARE = 70
EX_CONFIG = 78  # systemd's RestartPreventExitStatus=78: a bad config must not restart-loop


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brewd",
        description="Background-jobs daemon of Brew Me In: expiry, badges, analytics and the "
        "café host, on a cron schedule, exactly once per slot across nodes.",
        epilog="Exit status: 0 ok, 64 usage, 69 database unreachable, 70 internal error, "
        "78 bad configuration.",
    )
    parser.add_argument("--version", action="version", version=f"brewd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_options()

    run = sub.add_parser("run", parents=[common], help="run the daemon in the foreground")
    run.set_defaults(func=_cmd_run)
    _add_db_commands(sub, common)

    plan = sub.add_parser(
        "plan", parents=[common], help="the coming slots of every job, with DST decisions"
    )
    plan.add_argument("--hours", type=int, default=24, help="how far ahead (default 24)")
    plan.set_defaults(func=_cmd_plan)

    check = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate the configuration and print the effective values, secrets masked",
    )
    check.set_defaults(func=_cmd_check_config)

    demo = sub.add_parser(
        "demo", parents=[common], help="zero-setup demo: real servers, a café world, every job"
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def _add_db_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    init = db_sub.add_parser(
        "init",
        parents=[common],
        help="create or upgrade the schema (idempotent, safe on a live database)",
    )
    init.set_defaults(func=_cmd_db_init)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
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
        help="override any setting, e.g. --set scheduler.timezone=Europe/Paris",
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
    from brewd.adapters.pg import Database
    from brewd.db import migrate

    config = load_config(args, environ)
    db = Database(config.database, application_name="brewd-db-init")
    db.open(wait=True, timeout=config.database.connect_timeout)
    try:
        with db.connection() as conn:
            applied = migrate.apply(conn)
            version = migrate.current_version(conn)
    finally:
        db.close()
    done = ", ".join(applied) if applied else "nothing to do"
    print(f"schema at version {version} ({done})")
    return EX_OK


def _cmd_run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = load_config(args, environ)  # first: a bad configuration exits before heavy imports
    from brewd.daemon import run_daemon

    return run_daemon(config, args, environ)


def _cmd_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.plan import print_plan

    if args.hours <= 0:
        raise ConfigError(f"--hours {args.hours}: must be greater than 0")
    return print_plan(load_config(args, environ), hours=args.hours)


def _cmd_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from brewd.demo import run_demo

    return run_demo(args, environ)


Command = Callable[[argparse.Namespace, Mapping[str, str]], int]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args, os.environ if environ is None else environ)
    except ConfigError as exc:
        print(f"brewd: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except DatabaseError as exc:
        print(f"brewd: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except BrewdError as exc:
        print(f"brewd: {exc}", file=sys.stderr)
        return EX_SOFTWARE
    except KeyboardInterrupt:
        return 130
