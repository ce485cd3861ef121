"""The man pages: generated from the real --help plus the sections written for each page."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brewd.cli import brewctl as cli
from brewd.cli import glance as cli_glance
from brewd.core import exits

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("help2man") is None, reason="help2man is not installed (apt-get install help2man)"
)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("man")
    venv = Path(sys.executable).parent.parent
    subprocess.run(
        [str(ROOT / "packaging/manpages.sh"), str(venv), str(out), "0.0.test"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def _section(page: str, title: str) -> str:
    match = re.search(rf'^\.SH "?{title}"?\n(.*?)(?=^\.SH |\Z)', page, re.M | re.S)
    assert match, f"no {title} section"
    return match.group(1)


def _codes(section: str) -> set[int]:
    return {int(code) for code in re.findall(r"^\.B (\d+)$", section, re.M)}


@pytest.mark.parametrize("name", ["man8/brewd.8", "man1/brewctl.1"])
def test_each_page_has_the_sections_an_operator_looks_for(pages: Path, name: str) -> None:
    page = (pages / name).read_text()
    for title in ("NAME", "DESCRIPTION", "COMMANDS", "FILES", "ENVIRONMENT", "SIGNALS"):
        assert _section(page, title).strip()
    assert _section(page, "EXIT STATUS").strip()


def test_exit_statuses_on_the_pages_are_the_ones_the_code_returns(pages: Path) -> None:
    brewctl = _codes(_section((pages / "man1/brewctl.1").read_text(), "EXIT STATUS"))
    codes = {v for m in (cli, cli_glance) for k, v in vars(m).items() if k.startswith("EXIT_")}
    assert brewctl == codes
    brewd = _codes(_section((pages / "man8/brewd.8").read_text(), "EXIT STATUS"))
    assert brewd == {v for k, v in vars(exits).items() if k.startswith("EX_")}
