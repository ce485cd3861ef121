"""A child process for test_embedded: start the servers, print their pids, wait for a signal."""

from __future__ import annotations

import json
import sys

from brewd.embedded import EmbeddedServers


def main() -> int:
    try:
        with EmbeddedServers() as servers:
            assert servers.postgres
            assert servers.redis
            assert servers.directory
            facts = {
                "postgres": servers.postgres.pid,
                "redis": servers.redis.pid,
                "directory": str(servers.directory),
            }
            print(json.dumps(facts), flush=True)
            sys.stdin.read()  # until EOF, or until a signal ends us
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
