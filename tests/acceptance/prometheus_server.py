"""A real Prometheus server (Debian's package) for tests: a temporary scrape configuration,
a free loopback port, queries over its HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers import free_tcp_port, wait_until

BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"
SCRAPE_INTERVAL = "1s"  # short, so a trigger shows in a query within seconds


class Prometheus:
    """`start()` it with the targets to scrape (host:port), `query()` it, `stop()` it."""

    def __init__(self, workdir: Path, targets: list[str], rule_files: Sequence[str] = ()) -> None:
        self.dir = workdir / "prometheus"
        self.dir.mkdir()
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = self.dir / "prometheus.yml"
        # The scrape job is "brewd" with the default honor_labels (false), as the shipped
        # alert rules and dashboard expect: brewd's own `job` label arrives as exported_job.
        document = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "1s"},
            "rule_files": list(rule_files),
            "scrape_configs": [
                {
                    "job_name": "brewd",
                    "scrape_timeout": SCRAPE_INTERVAL,
                    "static_configs": [{"targets": targets}],
                }
            ],
        }
        self.config.write_text(json.dumps(document, indent=2))  # JSON is YAML
        self.log = self.dir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    BINARY,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = self.process
        wait_until(lambda: self._ready() or process.poll() is not None, 60, "Prometheus")
        assert process.poll() is None, self.log.read_text()
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """A GET on the HTTP API; the JSON answer whatever the status (errors come as 4xx)."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        return body

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query: the whole answer ({"status", "data" or "error", ...})."""
        return self.api("/api/v1/query", query=expr)

    def vector(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query that must succeed."""
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
