"""The real daemon's memory while it runs each data job on a large world, one after another.

    .venv/bin/python -m tests.bench.bench_daemon_rss [--users 10000000] [--messages-per-user 10]
        [--jobs expireUsers,expirePokes]

Needs a world kept by `tests.bench.bench_jobs --scales N --keep-worlds` (or --generate-only).
It makes one copy of that world, starts `brewd run` on it with its scheduler off and its wall
clock set by libfaketime to the world's own time (bench_jobs.NOW), triggers each job with
`brewctl trigger` and samples the daemon's resident set (VmRSS) ten times a second. The jobs
run in sequence on the same copy, as in production. Target (issue 17): under 150 MB.
Servers: BREWD_BENCH_PG_DSN and BREWD_BENCH_REDIS_URL, as for bench_jobs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from tests.bench.bench_jobs import (
    JOBS,
    NOW,
    Scratch,
    add_server_arguments,
    kept_world,
    world_name,
)

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
TARGET_MB = 150
JOB_TIMEOUT_S = 3_600


@dataclass
class Peak:
    """The largest VmRSS seen since the last reset, sampled on a thread."""

    pid: int
    mb: float = 0.0

    def sample_until(self, stop: threading.Event) -> None:
        """Sample now, every 0.1 s, and once more when `stop` is set."""
        while True:
            try:
                self.mb = max(self.mb, vm_mb(self.pid, "VmRSS"))
            except (FileNotFoundError, StopIteration):
                return  # the daemon is gone
            if stop.is_set():
                return
            stop.wait(0.1)


def vm_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def daemon_env(dsn: str, redis_url: str, sock: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "BREWD_CONTROL_SOCKET": sock,
        "ENABLE_SCHEDULER": "false",
        "BREWD_CONTROL_REQUEST_TIMEOUT": str(JOB_TIMEOUT_S),
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": "@" + NOW.strftime("%Y-%m-%d %H:%M:%S"),  # starts there, then ticks
        "TZ": "UTC",
    }
    for job in JOBS:
        env[f"BREWD_JOBS_{job.upper()}_TIMEOUT"] = str(JOB_TIMEOUT_S)
    env.pop("NOTIFY_SOCKET", None)
    return env


def trigger(sock: str, job: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "brewctl"),
            "--socket",
            sock,
            "trigger",
            job,
        ],
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT_S + 60,
    )
    outcome = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return time.monotonic() - started, outcome[-1] if outcome else f"exit {done.returncode}"


def wait_for(path: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    ready = threading.Event()
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"brewd did not start (exit {process.poll()}): see its log")
        ready.wait(0.1)


def measure(dsn: str, redis_url: str, jobs: list[str]) -> None:
    folder = tempfile.mkdtemp(prefix="brewd-bench-", dir="/tmp")
    sock, log = os.path.join(folder, "s.sock"), os.path.join(folder, "brewd.log")
    print(f"daemon's log: {log}", flush=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "brewd", "run", "--config", "/dev/null"],
            env=daemon_env(dsn, redis_url, sock),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(sock, process, 120)
        print(f"daemon started: RSS {vm_mb(process.pid, 'VmRSS'):.1f} MB", flush=True)
        for job in jobs:
            peak, stop = Peak(process.pid), threading.Event()
            sampler = threading.Thread(target=peak.sample_until, args=(stop,))
            sampler.start()
            seconds, outcome = trigger(sock, job)
            stop.set()
            sampler.join()
            print(
                f"  {job:<19} {seconds:8.1f} s  peak RSS {peak.mb:6.1f} MB  {outcome}", flush=True
            )
        high = vm_mb(process.pid, "VmHWM")
        verdict = "met" if high < TARGET_MB else "MISSED"
        print(
            f"daemon's peak RSS over all runs (VmHWM): {high:.1f} MB, target < {TARGET_MB} MB: "
            f"{verdict}"
        )
    finally:
        process.terminate()
        process.wait(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_daemon_rss", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--messages-per-user", type=int, default=10)
    parser.add_argument("--jobs", default=",".join(JOBS))
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    if not os.path.exists(LIBFAKETIME):
        raise SystemExit("libfaketime is not installed (apt-get install faketime)")
    scratch = Scratch(args.pg_dsn)
    world = world_name(args.users, args.messages_per_user)
    if not kept_world(scratch, world):
        raise SystemExit(
            f"no kept world {world}: build it first with\n"
            f"  python -m tests.bench.bench_jobs --scales {args.users} "
            f"--messages-per-user {args.messages_per_user} --generate-only"
        )
    jobs = [job for job in JOBS if job in args.jobs.split(",")]
    copy = f"{scratch.prefix}_daemon"
    try:
        measure(scratch.create(copy, world), args.redis_url, jobs)
    finally:
        scratch.drop(copy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
