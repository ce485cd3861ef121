"""The docs stay true: links resolve, and every table a page shares with the code matches it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from brewd.adapters.metrics import Metrics
from brewd.cli import brewctl as cli
from brewd.cli import glance as cli_glance
from brewd.cli.settings import load
from brewd.core import exits
from brewd.core.config import (
    JOB_DEFAULTS,
    LEGACY_ENV,
    Config,
    JobConfig,
    env_name,
    setting,
    setting_fields,
)
from brewd.daemon import RESTART_ONLY

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows of the first Markdown table whose header starts with `header_start`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip("|").split("|")])
            return rows
    raise AssertionError(f"no table starting {header_start!r}")


def test_readme_links_every_page_and_every_link_resolves() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = {m.group(1) for m in LINK.finditer(readme) if m.group(1).startswith("docs/")}
    assert {f"docs/{p.name}" for p in PAGES} <= linked, "a docs page the README does not list"
    for target in linked:
        assert (ROOT / target).exists(), f"README links to a missing {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_in_a_page_resolve(page: Path) -> None:
    for m in LINK.finditer(page.read_text()):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        assert (page.parent / target).resolve().exists(), f"{page.name} links to {target}"


def test_jobs_page_states_each_default_schedule() -> None:
    text = (DOCS / "jobs.md").read_text()
    for job, cron in JOB_DEFAULTS.items():
        assert re.search(rf"{job}\b[^\n]*`{re.escape(cron)}`", text), f"{job} `{cron}`"


def test_brewctl_exit_status_table_matches_the_code() -> None:
    rows = _table_rows((DOCS / "control.md").read_text(), "| exit status")
    documented = {int(code) for code, *_ in rows}
    in_code = {
        v
        for module in (cli, cli_glance)
        for k, v in vars(module).items()
        if k.startswith("EXIT_") and isinstance(v, int)
    }
    assert documented == in_code


def test_metrics_page_lists_exactly_the_exported_metrics() -> None:
    rows = _table_rows((DOCS / "metrics.md").read_text(), "| metric")
    documented = {row[0].strip("`") for row in rows}
    exported = set()
    for family in Metrics().registry.collect():
        suffix = "_total" if family.type == "counter" else ""
        exported.add(family.name + suffix)
    assert documented == exported


def _job_setting(config: Config, key: str) -> object:
    return getattr(config.jobs[next(iter(JOB_DEFAULTS))], key.rpartition(".")[2])


def test_configuration_page_lists_every_setting_its_variables_and_its_default() -> None:
    rows = _table_rows((DOCS / "configuration.md").read_text(), "| setting")
    documented = {row[0].strip("`"): row for row in rows}
    keys = [key for key, _ in setting_fields()]
    keys += [f"jobs.<job>.{f.name}" for f in dataclasses.fields(JobConfig)]
    assert sorted(documented) == sorted(keys), "a setting missing from the table, or one too many"
    for key in keys:
        _, variables, default, meaning = documented[key]
        legacy = {name for name, target in LEGACY_ENV.items() if target == key}
        assert set(re.findall(r"`([A-Z_<>]+)`", variables)) == {env_name(key)} | legacy, key
        assert meaning, key
        if key == "jobs.<job>.schedule":
            continue  # each job's own default: test_jobs_page_states_each_default_schedule
        get = _job_setting if key.startswith("jobs.") else setting
        given = re.match(r"`([^`]*)`", default)
        if given is None:
            assert default == "unset", key
            assert get(Config(), key) is None, key
            continue
        # The documented default, read as an operator's value would be, is the built-in one.
        variable = env_name(key).replace("<JOB>", next(iter(JOB_DEFAULTS)).upper())
        assert get(load(None, {variable: given.group(1)}), key) == get(Config(), key), key


def test_configuration_page_names_the_settings_a_reload_cannot_change() -> None:
    text = (DOCS / "configuration.md").read_text()
    paragraph = text[text.index("`systemctl reload brewd` (SIGHUP)") :].split("\n\n")[0]
    named = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)?)`", paragraph))
    assert named == set(RESTART_ONLY)


def test_brewd_exit_status_table_matches_the_code() -> None:
    rows = _table_rows((DOCS / "configuration.md").read_text(), "| exit status")
    documented = {int(code) for code, *_ in rows}
    assert documented == {v for k, v in vars(exits).items() if k.startswith("EX_")}
    assert documented == set(exits.MEANING)
