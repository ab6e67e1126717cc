"""/metrics and /healthz on METRICS_PORT: a small WSGI app served by wsgiref, on threads of its own, so that a slow
scrape never holds a poll or the sweep, nor they it.

/metrics is Prometheus's text format (prometheus_client.make_wsgi_app on the app's own registry). /healthz answers
200 "ok" while collection and delivery are healthy, else 503 with one line per problem (bot.metrics_collector)."""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from bot.logs import one_line
from bot.metrics import Metrics
from bot.metrics_collector import StoreCollector, Watch, problems
from bot.startup import StartupError

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_app(app: App, metrics: Metrics, redact: Callable[[str], str] = str) -> WSGIApp:
    """The WSGI app that serves `app`'s metrics and health; it also starts timing the socket's acknowledgements."""
    clock = app.sweep.clock
    watch = Watch(
        store=app.store,
        clock=clock,
        alert_after={w.watched.key: app.sweep.config.rules(w.watched.key).alert_after for w in app.watching},
        poll_interval=app.settings.poll_interval,
        http_timeout=app.settings.http_timeout,
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


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape under way never holds the process at exit


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — the base class's name
        log.debug("metrics: " + format, *args)  # a scrape every few seconds is not news


class MetricsServer:
    """The port, bound at once (a port in use fails the start with one line), and the metrics `run` records (give
    them to build_app); served once `start` is given the app."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 — scraped from outside the container
        self.metrics = Metrics()
        try:
            self._server = make_server(host, port, _not_ready, server_class=_Server, handler_class=_Handler)
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {one_line(exc.strerror or str(exc))}"
            raise StartupError(f"METRICS_PORT: port {port} {reason}") from None
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    def start(self, app: App, redact: Callable[[str], str] = str) -> None:
        """Serve `app`'s metrics and health on a daemon thread."""
        self._server.set_app(metrics_app(app, self.metrics, redact))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="replywatch-metrics", daemon=True
        )
        self._thread.start()
        log.info("serving /metrics and /healthz on port %d", self.port)

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(2)
        self._server.server_close()


def _not_ready(_environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    return _text(start_response, "503 Service Unavailable", "starting")
