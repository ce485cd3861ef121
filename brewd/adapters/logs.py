"""loguru, set up once: native journal records under systemd, readable stderr lines elsewhere."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from types import FrameType
from typing import Any, TextIO

from loguru import logger

from brewd.adapters.journal import DEFAULT_SOCKET, JournalWriter
from brewd.adapters.logfiles import DegradingFile
from brewd.adapters.lograte import RepeatFolder, shown
from brewd.core.config import Config, LoggingConfig
from brewd.core.redact import Redactor, secret_values, secrets_from_environ

SYSLOG_IDENTIFIER = "brewd"
ROTATION = "5 MB"
RETENTION = 5  # rotated files kept, besides the current one
_EXTRA_FIELD = "BREWD_{}"  # bound extra keys become journal fields: job -> BREWD_JOB


class _State:
    """The live threshold and the secrets: loguru's logger is process-wide, and so are these."""

    level_no = logger.level("INFO").no
    redactor = Redactor()
    folder = RepeatFolder()
    journal: JournalWriter | None = None


def level_no(level: str) -> int:
    """loguru's number for a level name in any case; ValueError names the bad level."""
    try:
        return logger.level(level.upper()).no
    except ValueError:
        raise ValueError(f"unknown log level {level!r}") from None


def syslog_priority(no: int) -> int:
    """syslog(3) priority of a loguru level number (custom levels land on the nearest below)."""
    for floor, priority in ((50, 2), (40, 3), (30, 4), (25, 5), (20, 6)):
        if no >= floor:
            return priority
    return 7  # DEBUG and TRACE


def journal_connected(environ: Mapping[str, str], fd: int = 2) -> bool:
    """True when stderr is the journal stream systemd announced in JOURNAL_STREAM (dev:ino)."""
    try:
        dev, ino = (int(part) for part in environ.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(fd)
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def journal_fields(record: Mapping[str, Any], text: str) -> dict[str, str]:
    """The native journal fields of one loguru record whose formatted text is `text`."""
    fields = {
        "MESSAGE": text,
        "PRIORITY": str(syslog_priority(record["level"].no)),
        "SYSLOG_IDENTIFIER": SYSLOG_IDENTIFIER,
        "CODE_FILE": record["file"].path,
        "CODE_LINE": str(record["line"]),
        "CODE_FUNC": record["function"] or "",
    }
    for key, value in record["extra"].items():
        if key.isidentifier() and key.isascii() and len(key) <= 50:
            fields[_EXTRA_FIELD.format(key.upper())] = str(value)
    exception = record["exception"]
    if exception is not None and exception.type is not None:
        fields["EXCEPTION_TYPE"] = exception.type.__name__
    return fields


class JournalSink:
    """A loguru sink writing native journal records; if journald is gone, lines go to stderr."""

    def __init__(self, writer: JournalWriter, fallback: TextIO) -> None:
        self._writer = writer
        self._fallback = fallback
        self._failing = False

    def __call__(self, message: Any) -> None:
        text = str(message).rstrip("\n")
        try:
            self._writer.send(journal_fields(message.record, text))
            self._failing = False
        except OSError as exc:
            if not self._failing:
                self._fallback.write(f"brewd: journal unavailable ({exc}), logging to stderr\n")
            self._failing = True
            self._fallback.write(text + "\n")
            self._fallback.flush()


def _line_format(record: Any) -> str:
    """Readable line: time, level, event, [job], message, then any traceback."""
    extra = record["extra"]
    event = " {extra[event]}" if "event" in extra else ""
    job = " [{extra[job]}]" if "job" in extra else ""
    job += " ({extra[library]})" if "library" in extra else ""
    return "{time:YYYY-MM-DD HH:mm:ss.SSSZ} {level: <8}" + event + job + " {message}\n{exception}"


def _at_threshold(record: Any) -> bool:
    return bool(record["level"].no >= _State.level_no) and shown(record)


def _patch(record: Any) -> None:
    """Mask secrets first, so repeats are compared (and remembered) masked."""
    _State.redactor.patch(record)
    _State.folder.patch(record)


def _common() -> dict[str, Any]:
    # diagnose=False: loguru's variable-dumping tracebacks could print a DSN or a key.
    # catch=True: a failing sink (full disk, journald gone) never raises into the daemon.
    return {"level": 0, "diagnose": False, "backtrace": False, "catch": True}


def setup_logging(
    config: LoggingConfig,
    environ: Mapping[str, str],
    *,
    journal_socket: str | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Configure loguru's sinks, level and secret masking, replacing any earlier setup.

    Secrets come from the environment (passwords in DATABASE_URL/REDIS_URL, ANTHROPIC_API_KEY,
    PGPASSWORD) and `secrets`; call register_secrets(config) for those from the TOML file.
    """
    new_level = level_no(config.level)
    logger.remove()
    _close_journal()
    _State.level_no = new_level
    _State.redactor = Redactor()
    _State.redactor.add(secrets_from_environ(environ))
    _State.redactor.add(secrets)
    _State.folder = RepeatFolder()
    logger.configure(patcher=_patch)
    if journal_connected(environ):
        _State.journal = JournalWriter(journal_socket or DEFAULT_SOCKET)
        sink: Any = JournalSink(_State.journal, sys.stderr)
        logger.add(sink, format="{message}", filter=_at_threshold, **_common())
    else:
        logger.add(sys.stderr, format=_line_format, filter=_at_threshold, **_common())
    if config.dir:
        _add_file_sinks(config.dir)
    _route_standard_logging()


def _add_file_sinks(directory: str) -> None:
    """error.log (WARNING and up) and combined.log; an unwritable directory is a warning."""
    added: list[int] = []
    try:
        os.makedirs(directory, exist_ok=True)
        for name, accept in (("combined.log", _at_threshold), ("error.log", _warning_up)):
            path = os.path.join(directory, name)
            sink = DegradingFile(path, rotation=ROTATION, retention=RETENTION, report=sys.stderr)
            added.append(logger.add(sink, format=_line_format, filter=accept, **_common()))
    except OSError as exc:
        for handler_id in added:
            logger.remove(handler_id)
        logger.bind(event="log_files_disabled").warning(
            "file logs disabled: cannot write to {} ({})", directory, exc.strerror or exc
        )


def _warning_up(record: Any) -> bool:
    warning = logger.level("WARNING").no
    return bool(record["level"].no >= max(_State.level_no, warning)) and shown(record)


def set_level(level: str) -> None:
    """Change the threshold of every sink at once (SIGHUP); ValueError for an unknown level."""
    _State.level_no = level_no(level)


def mask_known_secrets(text: str) -> str:
    """`text` with every secret known to the log masking replaced: for what is shown other
    than through the log (the health report's error strings)."""
    return _State.redactor.mask(text)


def register_secrets(config: Config) -> None:
    """Mask the configuration's secrets (from the file as well as the environment) from now on."""
    _State.redactor.add(secret_values(config))


def _close_journal() -> None:
    if _State.journal is not None:
        _State.journal.close()
        _State.journal = None


class _ToLoguru(logging.Handler):
    """Library warnings (psycopg_pool, aiohttp, ...) go through the same sinks and masking."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Point CODE_FILE/LINE at the library's call, not at the logging module (loguru recipe).
        frame: FrameType | None = logging.currentframe()
        depth = 2
        while frame is not None and frame.f_code.co_filename == logging.__file__:
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).bind(library=record.name).log(
            level, record.getMessage()
        )


def _route_standard_logging() -> None:
    # WARNING: libraries' INFO lines (aiohttp's access log for every brewctl call) are noise.
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
    # psycopg_pool warns once per failed connection attempt (about 50 a minute with a wrong
    # database name); brewd's dependency state says it once per outage, with the cause.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
