"""Print every subcommand's real --help as a help2man include file (a COMMANDS section).

Usage: python manhelp.py MODULE:FUNCTION   e.g. brewd.cli.brewd:main, brewd.cli.brewctl:main
The entry point is run with --help while argparse is watched, so whatever parser it builds is
documented as it is, without knowing how the program names its parser factory.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import sys


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def top_parser(entry: str) -> argparse.ArgumentParser:
    module, _, function = entry.partition(":")
    main = getattr(importlib.import_module(module), function)

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture  # type: ignore[assignment,method-assign]
    argparse.ArgumentParser.parse_known_args = capture  # type: ignore[assignment,method-assign]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            main(["--help"])
    except _Captured as found:
        return found.parser
    raise SystemExit(f"manhelp: {entry} never parsed its arguments")


def subcommands(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for action in parser._actions:  # argparse keeps no public list of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name.startswith("_"):  # hidden helpers (brewctl _jobs, for completion)
                    continue
                found.append((f"{path} {name}", sub.format_help()))
                found.extend(subcommands(sub, f"{path} {name}"))
    return found


def roff(text: str) -> str:
    escaped = text.replace("\\", "\\e")
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in escaped.splitlines()
    )


def main() -> None:
    parser = top_parser(sys.argv[1])
    print("[COMMANDS]")
    for name, text in subcommands(parser, parser.prog):
        print(f'.SS "{name}"\n.nf\n{roff(text.rstrip())}\n.fi')


if __name__ == "__main__":
    main()
