"""The control server: aiohttp on the Unix socket, in its own thread and event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
from typing import Any

from aiohttp import web
from loguru import logger

from brewd.adapters.metrics import Metrics
from brewd.control import trigger
from brewd.control.address import ListenAddress, parse_listen
from brewd.control.calls import FRESH_FOR, PortCalls
from brewd.control.listen import BACKLOG, bind_control_socket, remove_socket_file
from brewd.control.peer import group_id
from brewd.control.port import ControlPort
from brewd.control.refusals import RefusalLog
from brewd.control.responses import errors_as_json, protocol_error
from brewd.control.routes import ACCESS, CALLS, METRICS, PORT, REFUSALS, Access, routes
from brewd.control.shedding import ConnectionCap, Refused, ResourceErrorHandler
from brewd.control.web import build_web_app
from brewd.core.config import ControlConfig, HttpConfig
from brewd.core.errors import BrewdError, ConfigError, ControlSocketError

EXECUTOR_THREADS = 8  # port calls in flight at once; reads are coalesced, so this is plenty


def build_app(
    port: ControlPort, metrics: Metrics, config: ControlConfig, *, fresh_for: float = FRESH_FOR
) -> web.Application:
    """The aiohttp application: routes, JSON errors, body limit, and the port in AppKeys."""
    admin_gid = group_id(config.admin_group)
    if admin_gid is None:
        logger.bind(event="control_admin_group_missing").warning(
            f"admin group {config.admin_group!r} does not exist: only root and the daemon's "
            "user may trigger, pause and resume"
        )
    app = web.Application(middlewares=[errors_as_json], client_max_size=config.max_body_bytes)
    app[PORT] = port
    app[METRICS] = metrics
    app[CALLS] = PortCalls(timeout=config.request_timeout, fresh_for=fresh_for)
    app[REFUSALS] = RefusalLog()
    app[ACCESS] = Access(
        daemon_uid=os.geteuid(), admin_gid=admin_gid, body_timeout=config.request_timeout
    )
    app.add_routes(routes)
    app.add_routes(trigger.routes)
    return app


class _Connection(web.RequestHandler):
    """aiohttp's connection handler (the public `web.RequestHandler`, made for `runner.server`
    as `web.Server.__call__` makes it), with two additions: it gives its place under the cap
    back when the connection ends, and it answers unroutable requests (a garbled request
    line, an oversized header) with JSON like every other error, logged in one line."""

    __slots__ = ("_cap",)

    def __init__(self, server: web.Server, cap: ConnectionCap, **options: Any) -> None:
        super().__init__(server, loop=asyncio.get_running_loop(), **options)
        self._cap = cap

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cap.release()
        super().connection_lost(exc)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        logger.bind(event="control_bad_request").debug(
            f"control: unroutable request answered {status}: {type(exc).__name__}: {message}"
        )
        response = protocol_error(status, message)
        response.force_close()
        return response


async def serve_capped(
    runner: web.AppRunner, sock: socket.socket, cap: ConnectionCap, options: dict[str, Any]
) -> asyncio.Server:
    """Serve `runner`'s application on the listening `sock`; connections over `cap` are
    closed as soon as they are accepted (see shedding.Refused). `options`: the connection
    handler's settings (keepalive, logger, access log), as given to the runner."""
    server = runner.server
    if server is None:
        raise RuntimeError("serve_capped needs a runner that is set up")

    def connection() -> asyncio.BaseProtocol:
        if not cap.admit():
            return Refused()
        return _Connection(server, cap, **options)

    # create_server listens again on the socket: with the backlog it was bound with
    loop = asyncio.get_running_loop()
    return await loop.create_server(connection, sock=sock, backlog=BACKLOG)


class ControlServer:
    """The server on an asyncio loop: `await start()` listens, `await stop()` closes.
    `fresh_for`: how long a status or health answer is reused (see calls.FRESH_FOR)."""

    def __init__(
        self,
        port: ControlPort,
        metrics: Metrics,
        config: ControlConfig,
        *,
        http: HttpConfig | None = None,
        fresh_for: float = FRESH_FOR,
    ) -> None:
        self.config = config
        self._app = build_app(port, metrics, config, fresh_for=fresh_for)
        self._listen = parse_listen(http.listen) if http and http.listen else None
        # The TCP listener is a separate application: it has no mutating route to route to.
        self._web_app = build_web_app(port, metrics, config, fresh_for=fresh_for)
        self._runners: list[web.AppRunner] = []
        self._listeners: list[asyncio.Server] = []
        self._inode: int | None = None
        self.cap = ConnectionCap(config.max_connections)
        self.http_cap = ConnectionCap(config.max_connections)  # the TCP listener's own

    def _connection_options(self) -> dict[str, Any]:
        # keepalive_timeout also bounds how long a connection may take to send a request head
        return {
            "access_log": None,
            "keepalive_timeout": self.config.request_timeout,
            "logger": _quiet_aiohttp_logger(),
        }

    async def _serve(self, app: web.Application, sock: socket.socket, cap: ConnectionCap) -> None:
        options = self._connection_options()
        runner = web.AppRunner(app, handle_signals=False, **options)
        self._runners.append(runner)
        await runner.setup()
        self._listeners.append(await serve_capped(runner, sock, cap, options))

    async def start(self) -> None:
        sock, self._inode = bind_control_socket(self.config.socket, group=self.config.group)
        asyncio.get_running_loop().set_exception_handler(ResourceErrorHandler())
        await self._serve(self._app, sock, self.cap)
        logger.bind(event="control_listening").info(f"control API on {self.config.socket}")
        if self._listen is not None:
            await self._start_tcp(self._listen)

    async def _start_tcp(self, address: ListenAddress) -> None:
        await self._serve(self._web_app, bind_tcp(address), self.http_cap)
        where = "" if address.is_loopback else " (not loopback: reachable from the network)"
        logger.bind(event="http_listening").info(
            f"read-only HTTP listener on http://{address}/{where}"
        )

    async def stop(self, timeout: float = 5.0) -> None:
        if self._inode is not None:
            remove_socket_file(self.config.socket, self._inode)
        for listener in self._listeners:
            listener.close()  # no new connections; the runners finish the open ones
        self._listeners = []
        runners, self._runners = self._runners, []
        try:
            # in-flight requests get until the timeout; a daemon stopping waits no longer
            await asyncio.wait_for(asyncio.gather(*(r.cleanup() for r in runners)), timeout)
        except TimeoutError:
            logger.bind(event="control_stop_timeout").warning(
                f"control server: requests still in flight after {timeout:g} s, dropped"
            )


def bind_tcp(address: ListenAddress, backlog: int = BACKLOG) -> socket.socket:
    """A listening TCP socket on `address`; ConfigError (exit 78) naming http.listen if the
    address is taken or not this host's: the operator must change one or the other."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    try:
        sock = socket.create_server((address.host, address.port), family=family, backlog=backlog)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"http.listen = '{address}': cannot listen there ({reason})") from None
    sock.setblocking(False)
    return sock


def _start_error(exc: BaseException, path: str) -> BrewdError:
    """One line for the operator, of the kind main() turns into the right exit status."""
    if isinstance(exc, BrewdError):
        return exc
    if isinstance(exc, OSError):
        return ControlSocketError(f"cannot create control socket {path}: {exc.strerror or exc}")
    return BrewdError(f"control server: {exc}")


def _quiet_aiohttp_logger() -> logging.Logger:
    """aiohttp's own error logging, routed to loguru in one line without traceback."""
    http_log = logging.Logger("brewd.control.http")  # unregistered: no global logging state
    http_log.addHandler(_ToLoguru())
    return http_log


class _ToLoguru(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = "DEBUG" if record.levelno < logging.ERROR else "WARNING"
        exc = record.exc_info[1] if record.exc_info else None
        cause = f": {type(exc).__name__}: {exc}" if exc else ""
        logger.bind(event="control_http").log(level, f"control: {record.getMessage()}{cause}")


class ControlThread:
    """The control server on its own thread and event loop, beside the scheduling loop."""

    def __init__(
        self,
        port: ControlPort,
        metrics: Metrics,
        config: ControlConfig,
        *,
        http: HttpConfig | None = None,
        fresh_for: float = FRESH_FOR,
    ) -> None:
        self.config = config
        self._server = ControlServer(port, metrics, config, http=http, fresh_for=fresh_for)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, name="brewd-control", daemon=True)
        self._stop_timeout = 5.0

    @property
    def socket_path(self) -> str:
        return self.config.socket

    def start(self, timeout: float) -> None:
        """Return once the socket listens; raise BrewdError (one line) if it cannot."""
        self._thread.start()
        try:
            self._started.result(timeout)
        except concurrent.futures.TimeoutError:
            raise BrewdError(
                f"the control server did not start within {timeout:g} s ({self.config.socket})"
            ) from None

    def stop(self, timeout: float) -> None:
        """Close the socket, finish in-flight requests for up to `timeout`, end the thread."""
        loop, stopping = self._loop, self._stopping
        if loop is None or stopping is None or not self._thread.is_alive():
            return
        self._stop_timeout = timeout
        loop.call_soon_threadsafe(stopping.set)
        self._thread.join(timeout + 1.0)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        executor = concurrent.futures.ThreadPoolExecutor(
            EXECUTOR_THREADS, thread_name_prefix="brewd-control-call"
        )
        loop.set_default_executor(executor)
        try:
            loop.run_until_complete(self._serve())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        try:
            await self._server.start()
        except BaseException as exc:
            await self._server.stop(1.0)
            error = _start_error(exc, self.config.socket)
            self._started.set_exception(error)
            return
        self._started.set_result(None)
        await self._stopping.wait()
        await self._server.stop(self._stop_timeout)
