"""A real terminal for tests: a private tmux server, one shell pane, keys in, screen out."""

from __future__ import annotations

import shlex
import subprocess
import uuid
from collections.abc import Mapping

from tests.helpers import wait_until

COLUMNS, LINES = 140, 40


class Terminal:
    """A shell in a detached tmux session on its own server socket (-L), 140x40."""

    def __init__(self, shell: list[str], env: Mapping[str, str]) -> None:
        self.server = f"brewd-test-{uuid.uuid4().hex[:12]}"
        assignments = [f"{k}={v}" for k, v in env.items()]
        command = shlex.join(["env", "-i", *assignments, *shell])
        self._tmux("new-session", "-d", "-x", str(COLUMNS), "-y", str(LINES), command)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.server, *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def type(self, text: str) -> None:
        """Keys as typed (no Enter)."""
        self._tmux("send-keys", "-l", "--", text)

    def press(self, *keys: str) -> None:
        """Named keys: Enter, Tab, C-c ..."""
        self._tmux("send-keys", *keys)

    def run(self, line: str) -> None:
        self.type(line)
        self.press("Enter")

    def screen(self) -> str:
        """What a person sees now, trailing blanks trimmed."""
        return self._tmux("capture-pane", "-p").rstrip()

    def wait_for(self, predicate: object, timeout: float = 30, what: str = "") -> str:
        """The screen, once `predicate` (a substring, or a function of the screen) holds."""

        def check() -> str | None:
            screen = self.screen()
            ok = predicate(screen) if callable(predicate) else str(predicate) in screen
            return screen if ok else None

        try:
            return str(wait_until(check, timeout, what or repr(predicate)))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- the screen ---\n{self.screen()}") from None

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True, timeout=30)
