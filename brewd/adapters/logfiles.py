"""File logs that degrade quietly: a full disk or an unwritable file is one line per outage.

loguru's own rotating file sink, whose failed writes would otherwise print a traceback and a
dump of the record for every line logged."""

from __future__ import annotations

import contextlib
from typing import Any, TextIO

from loguru._file_sink import FileSink


class DegradingFile:
    """A loguru stream sink around FileSink (rotation and retention as for a path sink). While
    writes fail, lines are dropped; the first failure and the recovery are each said once."""

    def __init__(self, path: str, *, rotation: str, retention: int, report: TextIO) -> None:
        self._path = path
        self._report = report
        self._failing = False
        # Opens the file now: a directory that cannot be written fails here, at setup. FileSink
        # is what loguru itself builds for a path sink; it carries no type annotations.
        self._sink: Any = FileSink(  # type: ignore[no-untyped-call]
            path, rotation=rotation, retention=retention, encoding="utf-8"
        )

    def write(self, message: Any) -> None:
        try:
            self._sink.write(message)  # line-buffered: a line is flushed as it is written
        except OSError as exc:
            if not self._failing:
                self._say(
                    f"cannot write {self._path} ({exc.strerror or exc}): "
                    "file logging suspended until it can"
                )
            self._failing = True
            return
        if self._failing:
            self._failing = False
            self._say(f"writing {self._path} again")

    def _say(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._report.write(f"brewd: {text}\n")
            self._report.flush()

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # the final flush may meet the same full disk
            self._sink.stop()
