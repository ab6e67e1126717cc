"""/metrics and /healthz on METRICS_PORT (at METRICS_ADDR, 127.0.0.1 unless told): a small WSGI app served by waitress,
on threads of its own, so that a slow scrape never holds a poll or the sweep, nor they it.

The port shares the process's open-file limit with the bot's own network reads, so a client must not be able to
hold descriptors: a connection gets `read_timeout` to send a whole request (from when it opened, or from its last
answer), however it trickles bytes; at most `max_connections` are open, and at the cap the one that has waited
longest without a request is closed to make room, so that scrapes still get in; the rest wait in a listen backlog
the kernel holds. `MetricsServer.problem` says when the port is not serving.

/metrics is Prometheus's text format (prometheus_client.make_wsgi_app on the app's own registry). /healthz answers
200 "ok" while collection and delivery are healthy, else 503 with one line per problem (bot.metrics.collector)."""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from bot.app.verify import StartupError
from bot.logs import one_line
from bot.metrics.collector import StoreCollector, Watch, problems
from bot.metrics.instruments import Metrics

if TYPE_CHECKING:
    from bot.app.wire import App

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_app(app: App, metrics: Metrics, redact: Callable[[str], str] = str) -> WSGIApp:
    """The WSGI app that serves `app`'s metrics and health; it also starts timing the socket's acknowledgements."""
    clock = app.sweep.clock
    watch = Watch(
        store=app.store,
        clock=clock,
        alert_after={w.watched.key: app.sweep.config.rules(w.watched.key).alert_after for w in app.watching},
        config=app.sweep.config,
        poll_interval=app.config.settings.poll_interval,
        http_timeout=app.config.settings.http_timeout,
        started=clock.now(),
        redact=redact,
    )
    metrics.registry.register(StoreCollector(watch))
    if app.socket is not None:
        app.socket.on_ack = metrics.ack_seconds.observe
    return wsgi(metrics.registry, lambda: problems(watch))


def wsgi(registry: CollectorRegistry, health: Callable[[], list[str]]) -> WSGIApp:
    """/metrics from `registry`, /healthz from `health` (the problems, none while healthy)."""
    scrape = make_wsgi_app(registry)

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return scrape(environ, start_response)
        if path == "/healthz":
            try:
                found = health()
            except Exception as exc:  # noqa: BLE001 — a store that cannot be read is itself the problem to report
                found = [f"store: cannot read the database: {type(exc).__name__}"]
            return _text(start_response, "503 Service Unavailable" if found else "200 OK", "\n".join(found) or "ok")
        return _text(start_response, "404 Not Found", "not found: try /metrics or /healthz")

    return serve


def _text(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


READ_TIMEOUT = 10.0  # seconds a client has to send a whole request; a scrape sends its own in milliseconds
MAX_CONNECTIONS = 32  # open at once; Prometheus keeps one or two, a person with curl one more
BACKLOG = 512  # connections the kernel queues until they are accepted (it caps this at net.core.somaxconn)
THREADS = 2  # requests answered at once
GRACE = 0.01  # seconds a new connection is never closed to make room: a client's request comes right behind its connect


class _Channel(HTTPChannel):
    """A waitress connection that knows since when it has waited for a whole request: since it opened, or since its
    last answer (keep-alive). A client that trickles bytes is still waiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.waiting_since: float | None = time.monotonic()  # None while an answer is being made
        super().__init__(*args, **kwargs)

    def service(self) -> None:  # on a task thread, once a whole request has arrived
        self.waiting_since = None
        try:
            super().service()
        finally:
            self.waiting_since = time.monotonic()

    def waiting(self) -> float | None:
        """Since when it has waited for a whole request (monotonic), or None while one it sent is being answered."""
        return None if self.requests else self.waiting_since


class _Server(TcpWSGIServer):
    """waitress's server, with a deadline for whole requests and room made at the cap in place of its own
    `channel_timeout` (an idle timeout, which a byte a second defeats) and `connection_limit` (which stops accepting
    at the cap, so that idle connections would hold every scrape in the backlog)."""

    channel_class = _Channel

    def __init__(self, app: WSGIApp, sock: socket.socket, socket_map: dict[int, Any], adj: Adjustments, read_timeout: float,
                 max_connections: int) -> None:
        self.read_timeout, self.max_connections = read_timeout, max_connections
        self.full_since: float | None = None  # every connection is being answered; new ones wait in the backlog
        self.crowded = False  # room is being made at the cap (logged once, until half the cap is free again); the loop
        # then waits no longer than GRACE, so that the next room is made as soon as it may be
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        super().__init__(app, socket_map, True, sock, adj=adj, bind_socket=False, sockinfo=sockinfo)

    def readable(self) -> bool:
        """Asked by the event loop before each wait (at least every tick): close what is past its deadline, make room
        at the cap, and accept only below it."""
        if not self.accepting:
            return False
        now = time.monotonic()
        waiting = sorted(((since, c) for c in list(self.active_channels.values()) if (since := c.waiting()) is not None),
                         key=lambda pair: pair[0])
        closing = [c for since, c in waiting if now - since >= self.read_timeout]  # the oldest: a prefix
        staying = len(self.active_channels) - len(closing)
        rest = waiting[len(closing):]
        if staying >= self.max_connections and rest and now - rest[0][0] >= GRACE:
            closing.append(rest[0][1])  # the longest wait among the rest
            staying -= 1
            if not self.crowded:
                self.crowded = True
                log.warning("metrics: %d connections open, the most allowed: closing those that wait longest without "
                            "a request to make room", self.max_connections)
        elif self.crowded and staying <= self.max_connections // 2:
            self.crowded = False
            log.info("metrics: %d connections open, room again", staying)
        self._note_full(staying >= self.max_connections and not rest, now)  # every connection is being answered
        if closing:  # closed by the loop, between two waits, as waitress closes its own
            self.trigger.pull_trigger(lambda: _close(closing))
            return False  # accept once they are gone: never more than the cap open
        return staying < self.max_connections

    def _note_full(self, full: bool, now: float) -> None:
        if full and self.full_since is None:
            self.full_since = now
            log.warning("metrics: all %d connections are busy answering requests: new ones wait", self.max_connections)
        elif not full and self.full_since is not None:
            self.full_since = None
            log.info("metrics: accepting connections again")


def _close(channels: list[_Channel]) -> None:
    for channel in channels:
        if channel.socket is not None and channel.waiting() is not None:  # still open, and no request came meanwhile
            channel.handle_close()


class MetricsServer:
    """The port, bound at once (a port in use fails the start with one line), and the metrics `run` records (give
    them to build_app); served once `start` is given the app. `read_timeout`, `max_connections`, `backlog` and
    `threads` are the limits the module docstring explains (tests shorten them)."""

    def __init__(self, port: int, host: str = "127.0.0.1", *, read_timeout: float = READ_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, backlog: int = BACKLOG, threads: int = THREADS) -> None:
        self.metrics = Metrics()
        self.read_timeout = read_timeout
        self._app: WSGIApp = _not_ready
        self._map: dict[int, Any] = {}  # waitress's event loop's own, apart from any other
        sock = _bound(host, port)
        adj = Adjustments(
            sockets=[sock], backlog=backlog, threads=threads, ident="replywatch",
            max_request_header_size=16384, max_request_body_size=1024,  # GETs: no body to buffer
            log_socket_errors=False,  # a client that hangs up is no news
        )
        self._server = _Server(lambda environ, start: self._app(environ, start), sock, self._map, adj, read_timeout,
                               max_connections)
        self.host, self.port = host, sock.getsockname()[1]
        self._tick = min(1.0, read_timeout / 4)  # the loop's longest wait: how late a deadline may be noticed
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._stopping = threading.Event()  # the loop's signal to close its sockets and return

    def start(self, app: App, redact: Callable[[str], str] = str) -> None:
        """Serve `app`'s metrics and health on a daemon thread."""
        self.serve(metrics_app(app, self.metrics, redact))
        log.info("serving /metrics and /healthz on %s port %d", self.host, self.port)

    def serve(self, wsgi_app: WSGIApp) -> None:
        """Answer with `wsgi_app` from now on, on threads of the server's own (`start` gives it the app's)."""
        self._app = wsgi_app
        self._thread = threading.Thread(target=self._loop, name="replywatch-metrics", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        """waitress's event loop (its `wasyncore.loop`), with a wait that shortens while crowded, on poll(): select()
        fails past descriptor 1023, which a busy bot may well hand out."""
        try:
            while not self._stopping.is_set():
                wasyncore.poll2(GRACE if self._server.crowded else self._tick, self._map)
        except Exception as exc:  # noqa: BLE001 — said once here; problem() says it from then on
            log.error("metrics: the server stopped: %s: %s", type(exc).__name__, one_line(str(exc)))
        finally:  # only this thread closes what it polls: two threads closing one pipe would close a stranger's fd
            wasyncore.close_all(self._map)

    def problem(self) -> str | None:
        """Why the port is not serving, in one line to follow the part's name ("metrics server: …"): its thread has
        stopped, or every connection has been busy for longer than the read timeout, so that new ones wait. None
        while it serves (or before it starts). Cheap: it reads a few fields."""
        if self._thread is None:
            return None  # not started: nothing is promised yet
        if self._stopped or not self._thread.is_alive():
            return "its thread has stopped: /metrics and /healthz no longer answer"
        if not self._server.accepting:
            return "it no longer accepts connections: /metrics and /healthz no longer answer"
        full = self._server.full_since
        if full is not None and (busy := time.monotonic() - full) >= self.read_timeout:
            return (f"all {self._server.max_connections} connections have been busy answering requests for {busy:.0f}s: "
                    "new scrapes wait")
        return None

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self._thread is None:
            wasyncore.close_all(self._map)  # never served: nothing else holds the sockets
        elif self._thread.is_alive():  # woken now, the loop closes its sockets and returns (at the latest a tick later)
            with contextlib.suppress(OSError):  # the wake-up pipe is gone already: the tick is the wake-up
                self._server.trigger.pull_trigger()
            self._thread.join(2)
        self._server.task_dispatcher.shutdown(timeout=2)


def _bound(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, or the StartupError that says why not."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out the old connections
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartupError(f"METRICS_ADDR: {host} is not an address of this host") from None
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {one_line(exc.strerror or str(exc))}"
        raise StartupError(f"METRICS_PORT: port {port} {reason}") from None
    return sock


def _not_ready(_environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    return _text(start_response, "503 Service Unavailable", "starting")
