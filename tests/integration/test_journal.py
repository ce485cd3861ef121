"""The journal sink on a socket the test binds, speaking journald's native protocol."""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from brewd.adapters.journal import SEND_BUFFER, JournalWriter, encode
from brewd.adapters.logs import setup_logging
from brewd.core.config import LoggingConfig
from tests.native_journal import Journal, parse

pytestmark = pytest.mark.usefixtures("fresh_loguru")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(str(tmp_path / "journal.sock"))
    try:
        yield j
    finally:
        j.sock.close()


def stream_of_stderr() -> str:
    """JOURNAL_STREAM as systemd would set it when fd 2 is its stream."""
    st = os.fstat(2)
    return f"{st.st_dev}:{st.st_ino}"


def journal_setup(journal: Journal, level: str = "info") -> None:
    environ = {"JOURNAL_STREAM": stream_of_stderr()}
    setup_logging(LoggingConfig(level=level), environ, journal_socket=journal.path)


def test_entry_carries_brewd_fields_and_code_location(journal: Journal) -> None:
    journal_setup(journal)
    line = sys._getframe().f_lineno + 1
    logger.bind(job="expireUsers", run_id="4f1c", event="job_finished").info("expired {} users", 3)
    fields = journal.receive()
    assert fields == {
        "MESSAGE": "expired 3 users",
        "PRIORITY": "6",
        "SYSLOG_IDENTIFIER": "brewd",
        "BREWD_JOB": "expireUsers",
        "BREWD_RUN_ID": "4f1c",
        "BREWD_EVENT": "job_finished",
        "CODE_FILE": __file__,
        "CODE_LINE": str(line),
        "CODE_FUNC": "test_entry_carries_brewd_fields_and_code_location",
    }


def test_priority_follows_the_level(journal: Journal) -> None:
    journal_setup(journal, level="trace")
    for level in ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"):
        logger.log(level, "at {}", level)
    received = [journal.receive() for _ in range(7)]
    assert [(f["MESSAGE"], f["PRIORITY"]) for f in received] == [
        ("at TRACE", "7"),
        ("at DEBUG", "7"),
        ("at INFO", "6"),
        ("at SUCCESS", "5"),
        ("at WARNING", "4"),
        ("at ERROR", "3"),
        ("at CRITICAL", "2"),
    ]


def test_traceback_is_a_multi_line_value(journal: Journal) -> None:
    journal_setup(journal)
    try:
        raise ValueError("bad row")
    except ValueError:
        logger.bind(job="calculateBadges", event="job_failed").exception("run failed")
    raw = journal.receive_raw()
    assert b"\nMESSAGE\n" in b"\n" + raw  # the length-prefixed form, not MESSAGE=
    fields = parse(raw)
    message = fields["MESSAGE"].splitlines()
    assert message[0] == "run failed"
    assert message[1] == "Traceback (most recent call last):"
    assert message[-1] == "ValueError: bad row"
    assert fields["PRIORITY"] == "3"
    assert fields["EXCEPTION_TYPE"] == "ValueError"
    assert fields["BREWD_EVENT"] == "job_failed"


def test_entry_of_a_megabyte_is_one_datagram(journal: Journal) -> None:
    journal_setup(journal)
    logger.info("m" * (1024 * 1024))
    assert len(journal.receive()["MESSAGE"]) == 1024 * 1024


def test_multi_line_message_round_trips(journal: Journal) -> None:
    journal_setup(journal)
    logger.info("first line\nsecond = line\n\nfourth")
    assert journal.receive()["MESSAGE"] == "first line\nsecond = line\n\nfourth"


def test_entry_too_big_for_a_datagram_goes_through_a_sealed_memfd(journal: Journal) -> None:
    journal_setup(journal)
    big = "y" * (SEND_BUFFER + 1024)  # more than any datagram the kernel lets us send
    logger.bind(event="big").warning(big)
    fields = journal.receive()
    assert fields["MESSAGE"] == big
    assert fields["BREWD_EVENT"] == "big"


def test_threshold_and_reload_apply_to_the_journal(journal: Journal) -> None:
    journal_setup(journal, level="warning")
    logger.info("below the threshold")
    assert journal.nothing_pending()
    logger.warning("at the threshold")
    assert journal.receive()["MESSAGE"] == "at the threshold"


def test_not_the_journal_stream_means_stderr_lines(
    journal: Journal, capfd: pytest.CaptureFixture[str]
) -> None:
    environ = {"JOURNAL_STREAM": "1:1"}  # another stream: stderr was redirected elsewhere
    setup_logging(LoggingConfig(level="info"), environ, journal_socket=journal.path)
    logger.info("to stderr")
    assert journal.nothing_pending()
    assert capfd.readouterr().err.rstrip().endswith("INFO     to stderr")


def test_journald_gone_falls_back_to_stderr(
    journal: Journal, capfd: pytest.CaptureFixture[str]
) -> None:
    journal_setup(journal)
    journal.sock.close()
    os.unlink(journal.path)
    logger.info("first")
    logger.info("second")
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 3
    assert err[0].startswith("brewd: journal unavailable (")
    assert err[1:] == ["first", "second"]


def test_secrets_never_reach_the_journal(journal: Journal) -> None:
    environ = {
        "JOURNAL_STREAM": stream_of_stderr(),
        "DATABASE_URL": "postgresql://brewd:hunter2-pw@db/brewd",
    }
    setup_logging(LoggingConfig(level="info"), environ, journal_socket=journal.path)
    logger.bind(dsn="postgresql://brewd:hunter2-pw@db/brewd").info("db hunter2-pw")
    fields = journal.receive()
    assert fields["MESSAGE"] == "db ***"
    assert fields["BREWD_DSN"] == "postgresql://brewd:***@db/brewd"


@pytest.mark.parametrize("name", ["message", "_PID", "1ABC", "A-B", "X" * 65, ""])
def test_encode_rejects_invalid_field_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid journal field name"):
        encode({name: "v"})


def test_encode_forms() -> None:
    assert encode({"A": "1", "B": "x\ny", "C": b"\x00raw"}) == (
        b"A=1\nB\n" + struct.pack("<Q", 3) + b"x\ny\nC=\x00raw\n"
    )


def test_writer_reports_a_missing_socket(tmp_path: Path) -> None:
    writer = JournalWriter(str(tmp_path / "absent.sock"))
    try:
        with pytest.raises(FileNotFoundError):
            writer.send({"MESSAGE": "x"})
    finally:
        writer.close()


def test_fds_are_not_leaked_by_memfd_sends(journal: Journal) -> None:
    writer = JournalWriter(journal.path)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        writer.send({"MESSAGE": "z" * (SEND_BUFFER + 1)})
        assert len(journal.receive()["MESSAGE"]) == SEND_BUFFER + 1
    assert len(os.listdir("/proc/self/fd")) == before
    writer.close()
