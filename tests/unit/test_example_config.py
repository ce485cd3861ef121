"""The shipped example configuration (the package's /etc/brewd/brewd.toml) cannot drift."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from brewd.cli.settings import load
from brewd.core.config import JOB_DEFAULTS, LEGACY_ENV, SECTIONS, Config, JobConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "brewd" / "examples"
TOML = EXAMPLES / "brewd.toml"
ENV = EXAMPLES / "brewd.env"

# A commented-out setting is "# key = value"; prose comments never have that shape.
SETTING = re.compile(r"^# ([a-z_]+ = .+)$")


def uncomment(text: str) -> str:
    """The example with every commented-out setting made live."""
    return "\n".join(SETTING.sub(r"\1", line) for line in text.splitlines()) + "\n"


def is_explanation(line: str) -> bool:
    return line.startswith("# ") and not SETTING.match(line)


def keys_of(document: dict[str, object]) -> set[str]:
    """Every `section.key` (and `jobs.NAME.key`) a parsed TOML document sets."""
    keys: set[str] = set()
    for section, table in document.items():
        assert isinstance(table, dict)
        for name, value in table.items():
            if isinstance(value, dict):
                keys.update(f"{section}.{name}.{key}" for key in value)
            else:
                keys.add(f"{section}.{name}")
    return keys


def expected_keys() -> set[str]:
    keys = {f"{s}.{f.name}" for s, kind in SECTIONS.items() for f in dataclasses.fields(kind)}
    job_fields = [f.name for f in dataclasses.fields(JobConfig)]
    keys.update(f"jobs.{job}.{name}" for job in JOB_DEFAULTS for name in job_fields)
    return keys


def test_the_example_as_shipped_loads_as_the_defaults() -> None:
    config = load(str(TOML), environ={})
    assert config.source == str(TOML)
    assert dataclasses.replace(config, source=None) == Config()


def test_uncommenting_every_setting_yields_exactly_the_defaults(tmp_path: Path) -> None:
    live = tmp_path / "brewd.toml"
    live.write_text(uncomment(TOML.read_text()))
    config = load(str(live), environ={})
    assert dataclasses.replace(config, source=None) == Config()


def test_the_example_names_every_setting_of_the_config_module() -> None:
    document = tomllib.loads(uncomment(TOML.read_text()))
    assert keys_of(document) == expected_keys()


def test_a_drifted_example_is_caught() -> None:
    """The check above would notice a key that is missing or unknown to brewd/core/config.py."""
    text = uncomment(TOML.read_text()).replace("pool_min_size = 4\n", "")
    text = text.replace("[pokes]\n", "[pokes]\nretention_weeks = 2\n")
    found = keys_of(tomllib.loads(text))
    assert expected_keys() - found == {"database.pool_min_size"}
    assert found - expected_keys() == {"pokes.retention_weeks"}


def test_every_section_setting_has_a_one_line_explanation_above_it() -> None:
    lines = TOML.read_text().splitlines()
    in_jobs = False
    for number, line in enumerate(lines):
        in_jobs = in_jobs or line.startswith("[jobs.")
        if SETTING.match(line) and not in_jobs:
            assert is_explanation(lines[number - 1]), line


@pytest.mark.parametrize("job", sorted(JOB_DEFAULTS))
def test_every_job_has_its_block_with_a_description(job: str) -> None:
    lines = TOML.read_text().splitlines()
    header = lines.index(f"[jobs.{job}]")
    assert is_explanation(lines[header + 1])


def test_the_env_example_names_the_secrets_commented_out() -> None:
    text = ENV.read_text()
    names = re.findall(r"^#([A-Z_]+)=", text, flags=re.MULTILINE)
    assert names == ["DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"]
    assert set(names) <= set(LEGACY_ENV)
    assert not re.search(r"^[A-Z_]+=", text, flags=re.MULTILINE)  # nothing set by default
