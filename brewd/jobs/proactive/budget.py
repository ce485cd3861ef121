"""proactiveMessages, the Claude budget all nodes share: requests per minute and the 429 pause.

The budget is a sliding window kept in Redis (one sorted set of request stamps, Redis's own
clock, so nodes' clocks do not matter), checked and taken by one Lua script: no minute, however
it is cut, ever holds more than `requests_per_minute` requests from all nodes together. A 429
with `retry-after` writes one pause-until stamp that the same script honours, so every node
stops calling for that long. While Redis cannot be reached, each node keeps a window of its own
with `requests_per_minute / budget_nodes` (a conservative share) and pauses only itself.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

from loguru import logger

from brewd.adapters import cache as keys
from brewd.adapters.cache import Redis
from brewd.core.errors import CacheError

# The window is two seconds longer than a minute: a request is stamped when it is allowed, and
# reaches the API a little later (up to a second on a loaded 2-core machine in the benchmark);
# the margin keeps every minute, as the API counts it, within the budget even so.
WINDOW_MS = 62_000

# KEYS[1] the window, KEYS[2] the pause; ARGV[1] the budget (0: none), ARGV[2] a unique
# stamp, ARGV[3] the window in ms.
# Returns 0 when the request may go now, else the milliseconds to wait before asking again.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then return pause - now end
local budget = tonumber(ARGV[1])
if budget <= 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < budget then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + tonumber(ARGV[3]) - now)
"""

# KEYS[1] the pause; ARGV[1] milliseconds. Only ever extends a pause, never shortens one.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', ARGV[1])
end
return until_ms
"""


class Budget:
    """One node's door to the shared budget; thread-safe, one per run."""

    def __init__(
        self, cache: Redis, per_minute: int, share: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache = cache
        self._per_minute = per_minute
        self._local = _LocalWindow(max(1, per_minute // share) if per_minute else 0, clock)
        self._redis_down = False
        self._lock = threading.Lock()
        self.paused_s = 0.0  # total pause asked by 429s, for the run's message

    def wait_ms(self) -> int:
        """0 when one request may go now (and it is counted), else the ms to wait first."""
        stamp = uuid.uuid4().hex
        if not self._redis_down:
            try:
                with keys.wrap_errors():
                    wait = self._cache.eval(
                        _TAKE,
                        2,
                        keys.PROACTIVE_BUDGET,
                        keys.PROACTIVE_PAUSE,
                        self._per_minute,
                        stamp,
                        WINDOW_MS,
                    )
                return int(wait)
            except CacheError as exc:
                self._fall_back(exc)
        return self._local.take()

    def pause(self, seconds: float) -> None:
        """The API said 429 with retry-after: nobody calls for that long."""
        ms = max(1, int(seconds * 1000))
        with self._lock:
            self.paused_s += seconds
        if not self._redis_down:
            try:
                with keys.wrap_errors():
                    self._cache.eval(_PAUSE, 1, keys.PROACTIVE_PAUSE, ms)
                return
            except CacheError as exc:
                self._fall_back(exc)
        self._local.pause(ms)

    def _fall_back(self, exc: CacheError) -> None:
        with self._lock:
            if self._redis_down:
                return
            self._redis_down = True
        logger.bind(event="proactive_budget_local").warning(
            f"Claude budget: Redis unreachable ({exc}); this node keeps its own share, "
            f"{self._local.per_minute} requests a minute, for the rest of the run"
        )


class _LocalWindow:
    """The same window and pause, in this process only: the fallback while Redis is down."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            now = self._clock()
            if self._pause_until > now:
                return max(1, int((self._pause_until - now) * 1000))
            if not self.per_minute:
                return 0
            while self._stamps and self._stamps[0] <= now - WINDOW_MS / 1000:
                self._stamps.popleft()
            if len(self._stamps) < self.per_minute:
                self._stamps.append(now)
                return 0
            return max(1, int((self._stamps[0] + WINDOW_MS / 1000 - now) * 1000))

    def pause(self, ms: int) -> None:
        with self._lock:
            self._pause_until = max(self._pause_until, self._clock() + ms / 1000)
