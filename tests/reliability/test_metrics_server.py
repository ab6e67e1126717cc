"""The metrics port against clients that hold connections open: hundreds that never send a full request, some that
drip a byte a second. The port must keep answering scrapes, hold no more than its cap of file descriptors (the bot's
own network reads share the process's limit), and close what sends no request within its read timeout.

Real sockets and a real scrape of the app as `replywatch run` builds it. The flood comes from another process, so
that /proc/self/fd counts only what the server holds."""

from __future__ import annotations

import http.client
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app.wire import App, build_app
from bot.clock import FakeClock
from bot.config.load import load_config
from bot.metrics.http import MetricsServer
from bot.standins.http import wait_for
from tests.conftest import START

READ_TIMEOUT = 1.0  # seconds: short here; the default is 10 s
CAP = 16  # connections
MARGIN = 12  # descriptors besides the connections: the database's files, a scrape's own, the wake-up pipe

# Opens IDLE connections (half send nothing, half a request line and a header but never the blank line that ends the
# headers) and DRIP connections that send one byte a second; reopens any the server closes, so the flood lasts
# SECONDS. Prints "ready" once the first round is open, then, at the end, how many the server closed.
FLOOD = r"""
import select, socket, sys, time
port, idle, drip, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
PARTIAL = b"GET /metrics HTTP/1.1\r\nHost: replywatch\r\n"
def open_one(kind):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        if kind == "partial":
            s.sendall(PARTIAL)
        elif kind == "drip":
            s.sendall(b"G")
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s
kinds = ["silent"] * (idle // 2) + ["partial"] * (idle - idle // 2) + ["drip"] * drip
socks = {}
for i, kind in enumerate(kinds):
    socks[i] = open_one(kind)
print("ready", sum(s is not None for s in socks.values()), flush=True)
closed, end, next_drip = 0, time.monotonic() + seconds, time.monotonic() + 1
while time.monotonic() < end:
    poller = select.poll()
    by_fd = {}
    for i, s in socks.items():
        if s is None:
            socks[i] = open_one(kinds[i])
            continue
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
        by_fd[s.fileno()] = i
    for fd, _ in poller.poll(200):
        i = by_fd[fd]
        try:
            gone = socks[i].recv(1024) == b""
        except BlockingIOError:
            gone = False
        except OSError:
            gone = True
        if gone:
            closed += 1
            socks[i].close()
            socks[i] = None
    if time.monotonic() >= next_drip:
        next_drip += 1
        for i, s in socks.items():
            if s is not None and kinds[i] == "drip":
                try:
                    s.send(b"E")
                except OSError:
                    pass
print("closed", closed, flush=True)
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def scrape(port: int, path: str = "/metrics", timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, MetricsServer]]:
    """The app as `run` builds it (against the stand-ins), its metrics served with a short read timeout and a small cap."""
    for key, value in {**env, "METRICS_PORT": "9108"}.items():
        monkeypatch.setenv(key, value)
    server = MetricsServer(0, "127.0.0.1", read_timeout=READ_TIMEOUT, max_connections=CAP)
    app = build_app(load_config(), FakeClock(START), metrics=server.metrics)
    server.start(app)
    yield app, server
    server.stop()
    app.store.dispose()


@pytest.mark.slow
def test_a_flood_of_connections_that_send_no_request_neither_holds_scrapes_nor_eats_descriptors(
    served: tuple[App, MetricsServer],
) -> None:
    _app, server = served
    assert scrape(server.port)[0] == 200  # the store's connection is open before the baseline is taken
    baseline = open_fds()
    flood = subprocess.Popen(
        [sys.executable, "-c", FLOOD, str(server.port), "500", "20", "6"], stdout=subprocess.PIPE, text=True
    )
    try:
        ready = flood.stdout.readline().split()
        assert ready[:1] == ["ready"] and int(ready[1]) >= 500, ready
        highest, scrapes = 0, []
        stop = time.monotonic() + 5  # the flood goes on (the flooder reopens what is closed) all this while
        while time.monotonic() < stop:
            highest = max(highest, open_fds() - baseline)
            began = time.monotonic()
            status, text = scrape(server.port, timeout=3)
            scrapes.append(time.monotonic() - began)
            assert status == 200, text
            assert any(f.name == "replywatch_alert_after_seconds" for f in text_string_to_metric_families(text))
            highest = max(highest, open_fds() - baseline)
            time.sleep(0.1)
        assert max(scrapes) < 2, f"a scrape waited {max(scrapes):.1f}s behind the idle connections"
        assert highest <= CAP + MARGIN, f"{highest} descriptors more than before the flood (cap {CAP})"
        assert server.problem() is None, "idle connections are made room for: the server still serves"
        closed = flood.communicate(timeout=10)[0].split()  # the flood ends by itself
        assert closed[:1] == ["closed"] and int(closed[1]) >= 500, f"the server closed what it could not keep: {closed}"
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
    assert wait_for(lambda: open_fds() <= baseline + 2, timeout=READ_TIMEOUT + 3), "what the flood opened is all closed"


def _closed_after(connections: dict[str, socket.socket], opened: float) -> dict[str, float]:
    """Seconds from `opened` until the server closed each connection (its end read as EOF or a reset)."""
    closed: dict[str, float] = {}
    poller = select.poll()
    names = {c.fileno(): name for name, c in connections.items()}
    for c in connections.values():
        poller.register(c, select.POLLIN | select.POLLHUP | select.POLLERR)
    give_up = time.monotonic() + READ_TIMEOUT + 5
    while len(closed) < len(connections) and time.monotonic() < give_up:
        for fd, _ in poller.poll(50):
            try:
                gone = connections[names[fd]].recv(1024, socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                gone = False
            except ConnectionResetError:
                gone = True
            if gone:
                closed[names[fd]] = time.monotonic() - opened
                poller.unregister(fd)
    return {name: closed.get(name, float("inf")) for name in connections}


def test_connections_that_send_no_full_request_are_closed_after_the_read_timeout(served: tuple[App, MetricsServer]) -> None:
    _app, server = served
    opened = time.monotonic()
    silent = socket.create_connection(("127.0.0.1", server.port))
    partial = socket.create_connection(("127.0.0.1", server.port))
    partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: replywatch\r\n")
    dripping = socket.create_connection(("127.0.0.1", server.port))
    stop = threading.Event()

    def drip() -> None:  # a byte every 0.3 s: never idle long, never a full request
        for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":
            if stop.wait(0.3):
                return
            try:
                dripping.send(bytes([byte]))
            except OSError:
                return

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        waits = _closed_after({"silent": silent, "partial": partial, "dripping": dripping}, opened)
    finally:
        stop.set()
        dripper.join()
        for c in (silent, partial, dripping):
            c.close()
    for name, waited in waits.items():
        assert READ_TIMEOUT - 0.1 <= waited <= READ_TIMEOUT + 1.5, f"{name}: closed after {waited:.2f}s"
    assert scrape(server.port)[0] == 200


def test_a_connection_that_keeps_asking_is_served_every_time(served: tuple[App, MetricsServer]) -> None:
    """Keep-alive, as Prometheus scrapes: requests that arrive whole are answered, however long the connection lives."""
    _app, server = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for i in range(4):
            connection.request("GET", "/metrics")
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read()
            if i == 0:
                first = connection.sock
            assert connection.sock is first, "the same connection each time"
            time.sleep(READ_TIMEOUT / 2)  # between requests: each arrives within the read timeout of the last answer
    finally:
        connection.close()


def _blocking(release: threading.Event) -> Callable[..., Any]:
    def app(_environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"ok\n"]

    return app


def test_problem_says_when_the_server_is_not_serving() -> None:
    """None while it serves; one line while every connection is busy with a request and new ones wait (longer than
    the read timeout), and once its thread has stopped."""
    server = MetricsServer(0, "127.0.0.1", read_timeout=READ_TIMEOUT, max_connections=4, threads=2)
    release = threading.Event()
    busy: list[socket.socket] = []
    try:
        server.serve(_blocking(release))
        assert server.problem() is None
        for _ in range(4):  # two are being answered, two wait for a thread: none can be closed to make room
            c = socket.create_connection(("127.0.0.1", server.port))
            c.sendall(b"GET / HTTP/1.1\r\nHost: replywatch\r\n\r\n")
            busy.append(c)
        assert wait_for(lambda: server.problem() is not None, timeout=READ_TIMEOUT + 3)
        problem = server.problem()
        assert problem.startswith("all 4 connections have been busy answering requests for ") and "\n" not in problem, problem
        release.set()
        assert wait_for(lambda: server.problem() is None, timeout=3)
        assert scrape(server.port, "/")[0] == 200
    finally:
        release.set()
        for c in busy:
            c.close()
        server.stop()
    assert server.problem() == "its thread has stopped: /metrics and /healthz no longer answer"


def test_a_port_in_use_is_one_line_naming_the_setting() -> None:
    from bot.app.verify import StartupError

    server = MetricsServer(0, "127.0.0.1")
    try:
        with pytest.raises(StartupError) as info:
            MetricsServer(server.port, "127.0.0.1")
        assert str(info.value) == f"METRICS_PORT: port {server.port} is already in use"
    finally:
        server.stop()
