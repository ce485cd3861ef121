"""Real headless Chromium (Debian's package) driven over the DevTools protocol: load a page,
collect console errors, evaluate JavaScript, take a screenshot."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from tests.helpers import wait_until

BINARY = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1400,1000",
)


class Chromium:
    """One browser with a fresh profile; `async with page(...)` opens its first tab."""

    def __init__(self, workdir: Path) -> None:
        self.profile = workdir / "chromium-profile"
        self.log = workdir / "chromium.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Chromium:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [BINARY, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        port_file = self.profile / "DevToolsActivePort"  # written once DevTools listens
        process = self.process
        wait_until(lambda: port_file.exists() or process.poll() is not None, 60, "Chromium")
        assert process.poll() is None, self.log.read_text(errors="replace")
        self.devtools = int(port_file.read_text().split()[0])
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Page:
    """A DevTools session on one tab: commands, and the errors the page reported."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self._event(data.get("method", ""), data.get("params", {}))

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a)) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry']['source']}: {params['entry']['text']}")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.ws.send_json({"id": number, "method": method, "params": params})
        answer = await asyncio.wait_for(future, 60)
        assert "error" not in answer, (method, answer)
        result: dict[str, Any] = answer["result"]
        return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Evaluate until truthy (the deadline is the page's, polled every 50 ms)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := await self.evaluate(expression)):
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {expression}")
            await asyncio.sleep(0.05)  # the browser's own work advances meanwhile
        return value

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


async def open_page(browser: Chromium, session: aiohttp.ClientSession, url: str) -> Page:
    """The browser's first tab, with console, exceptions and log entries collected, at `url`."""
    async with session.get(f"http://127.0.0.1:{browser.devtools}/json/list") as response:
        targets = await response.json()
    tab = next(t for t in targets if t["type"] == "page")
    ws = await session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024)
    page = Page(ws)
    for domain in ("Runtime", "Log", "Page"):
        await page.send(f"{domain}.enable")
    await page.send("Page.navigate", url=url)
    return page
