"""Logging setup: stderr lines, levels and reload, file sinks and rotation, degraded file logs."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from brewd.adapters.logs import (
    RETENTION,
    journal_connected,
    set_level,
    setup_logging,
    syslog_priority,
)
from brewd.cli.settings import load
from brewd.core.config import LoggingConfig

pytestmark = pytest.mark.usefixtures("fresh_loguru")

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (?P<level>[A-Z]+) +(?P<rest>.*)$"
)


def rest(line: str) -> tuple[str, str]:
    match = LINE.match(line)
    assert match, line
    return match["level"], match["rest"]


def stderr_lines(capfd: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capfd.readouterr().err.splitlines() if line]


def test_stderr_line_has_time_level_event_job_and_message(
    capfd: pytest.CaptureFixture[str],
) -> None:
    setup_logging(LoggingConfig(level="info"), {})
    logger.bind(event="job_finished", job="expireUsers").info("expired {} users", 3)
    [line] = stderr_lines(capfd)
    match = LINE.match(line)
    assert match, line
    assert match["level"] == "INFO"
    assert match["rest"] == "job_finished [expireUsers] expired 3 users"


def test_stderr_line_without_context_is_just_the_message(
    capfd: pytest.CaptureFixture[str],
) -> None:
    setup_logging(LoggingConfig(level="info"), {})
    logger.warning("plain {braces} kept")
    [line] = stderr_lines(capfd)
    match = LINE.match(line)
    assert match
    assert (match["level"], match["rest"]) == ("WARNING", "plain {braces} kept")


def test_traceback_has_no_variable_values(capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggingConfig(level="info"), {})
    hidden_value = "value-of-a-local-variable"
    try:
        raise ValueError(len(hidden_value))
    except ValueError:
        logger.exception("job crashed")
    err = capfd.readouterr().err
    assert "Traceback" in err
    assert "ValueError: 25" in err
    # diagnose=True would annotate the frame with the variable's value.
    assert "value-of-a-local-variable'" not in err.replace('hidden_value = "', "")
    assert "└" not in err


def test_level_threshold_and_set_level(capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggingConfig(level="info"), {})
    logger.debug("hidden at info")
    logger.info("shown at info")
    set_level("debug")
    logger.debug("shown at debug")
    set_level("ERROR")
    logger.warning("hidden at error")
    logger.error("shown at error")
    messages = [LINE.match(line)["rest"] for line in stderr_lines(capfd)]  # type: ignore[index]
    assert messages == ["shown at info", "shown at debug", "shown at error"]


def test_set_level_rejects_unknown_level_and_keeps_the_old_one(
    capfd: pytest.CaptureFixture[str],
) -> None:
    setup_logging(LoggingConfig(level="warning"), {})
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        set_level("loud")
    logger.info("still hidden")
    logger.warning("still shown")
    assert [line.endswith("still shown") for line in stderr_lines(capfd)] == [True]


def test_setup_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        setup_logging(LoggingConfig(level="verbose"), {})


def test_log_level_environment_variable_is_honoured(capfd: pytest.CaptureFixture[str]) -> None:
    environ = {"LOG_LEVEL": "warning"}
    setup_logging(load(None, environ).logging, environ)
    logger.info("below LOG_LEVEL")
    logger.warning("at LOG_LEVEL")
    assert [line.endswith("at LOG_LEVEL") for line in stderr_lines(capfd)] == [True]


def test_standard_logging_warnings_are_routed_through_loguru(
    capfd: pytest.CaptureFixture[str],
) -> None:
    setup_logging(LoggingConfig(level="info"), {})
    logging.getLogger("psycopg").warning("connection lost: %s", "retrying")
    logging.getLogger("aiohttp.access").info("GET /health 200")  # library INFO is noise
    [line] = stderr_lines(capfd)
    assert line.endswith("WARNING  (psycopg) connection lost: retrying")


def test_psycopg_pool_per_attempt_warnings_are_silenced(capfd: pytest.CaptureFixture[str]) -> None:
    """brewd's dependency state says an outage once, with its cause; the pool's warning for
    each failed attempt (about 50 a minute with a wrong database name) is not repeated."""
    setup_logging(LoggingConfig(level="info"), {})
    logging.getLogger("psycopg.pool").warning("error connecting in 'brewd': %s", "refused")
    logging.getLogger("psycopg.pool").error("the pool is broken")
    [line] = stderr_lines(capfd)
    assert line.endswith("ERROR    (psycopg.pool) the pool is broken")


def test_syslog_priorities() -> None:
    levels = ["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"]
    priorities = [syslog_priority(logger.level(name).no) for name in levels]
    assert priorities == [7, 7, 6, 5, 4, 3, 2]


def test_journal_connected_only_when_stderr_is_the_announced_stream(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "w") as stream:
        st = os.fstat(stream.fileno())
        fd = stream.fileno()
        assert journal_connected({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, fd)
        assert not journal_connected({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, fd)
        assert not journal_connected({"JOURNAL_STREAM": "garbage"}, fd)
        assert not journal_connected({}, fd)


# -- file logs --------------------------------------------------------------------------------


def test_file_logs_split_by_level(tmp_path: Path) -> None:
    setup_logging(LoggingConfig(level="info", dir=str(tmp_path / "logs")), {})
    logger.bind(job="expirePokes", event="job_finished").info("deleted 4 pokes")
    logger.bind(job="expirePokes", event="job_failed").error("lock timeout")
    logger.remove()  # flush and close the files
    combined = (tmp_path / "logs" / "combined.log").read_text().splitlines()
    errors = (tmp_path / "logs" / "error.log").read_text().splitlines()
    assert [rest(line) for line in combined] == [
        ("INFO", "job_finished [expirePokes] deleted 4 pokes"),
        ("ERROR", "job_failed [expirePokes] lock timeout"),
    ]
    assert [rest(line) for line in errors] == [("ERROR", "job_failed [expirePokes] lock timeout")]


def test_file_logs_rotate_at_5_mb_and_keep_5(tmp_path: Path) -> None:
    setup_logging(LoggingConfig(level="info", dir=str(tmp_path)), {})
    chunk = "x" * 10_000
    for _ in range(8 * 5 * 1024 * 1024 // len(chunk)):  # 40 MB: eight rotations' worth
        logger.info(chunk)
    logger.remove()
    combined = sorted(p for p in tmp_path.iterdir() if p.name.startswith("combined"))
    assert len(combined) == 1 + RETENTION
    assert (tmp_path / "combined.log") in combined
    # Each file stops short of 5 MB by less than one line: loguru rotates before the write
    # that would cross the limit.
    line = len(chunk) + 100
    rotated = [p for p in combined if p.name != "combined.log"]
    assert all(5_000_000 - line <= p.stat().st_size <= 5_000_000 for p in rotated)
    assert (tmp_path / "combined.log").stat().st_size <= 5_000_000


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """chattr +i: unwritable even for root, which ignores mode bits."""
    result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {result.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_unwritable_log_directory_degrades_to_one_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with immutable(tmp_path):
        setup_logging(LoggingConfig(level="info", dir=str(tmp_path)), {})
        logger.info("still logged")
    lines = stderr_lines(capfd)
    assert len(lines) == 2, lines
    assert f"log_files_disabled file logs disabled: cannot write to {tmp_path}" in lines[0]
    assert lines[1].endswith("still logged")
    assert list(tmp_path.iterdir()) == []


def test_log_dir_that_is_a_file_degrades(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("")
    setup_logging(LoggingConfig(level="info", dir=str(tmp_path / "afile" / "logs")), {})
    assert "file logs disabled" in capfd.readouterr().err


def test_write_failure_after_start_never_reaches_the_caller(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    setup_logging(LoggingConfig(level="info", dir=str(tmp_path)), {})
    logger.info("before")
    with immutable(tmp_path / "combined.log"):  # what a full disk looks like to a writer: EPERM
        logger.info("during")
    logger.info("after")
    logger.remove()
    err = capfd.readouterr().err
    assert [rest(line)[1] for line in err.splitlines() if LINE.match(line)] == [
        "before",
        "during",
        "after",
    ]
    # One line when the writes start failing and one when they work again: no traceback and
    # no dump of the record for every line (brewd/adapters/logfiles.py).
    assert "Logging error in Loguru Handler" not in err
    assert "Traceback" not in err
    assert err.count("(Operation not permitted): file logging suspended until it can") == 1
    assert err.count("combined.log again") == 1
    logged = [rest(line)[1] for line in (tmp_path / "combined.log").read_text().splitlines()]
    # The failed line may survive in Python's file buffer and land later; nothing is reordered.
    assert logged in (["before", "after"], ["before", "during", "after"])
