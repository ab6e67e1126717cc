"""A tiny threaded HTTP server that every stand-in shares (the networks' and Slack's), with injectable faults."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

WriteFault = Literal["unavailable", "lost", "cut"]  # a 5xx before it is done; done, answer lost; done, answer cut


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        ctype = self.headers.get("content-type", "")
        if "json" in ctype:
            return {k: v for k, v in self.json().items()}
        params = {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}
        return {**self.query, **params}


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drip: float = 0.0  # seconds between the body's bytes: a server never idle long enough for a read timeout


@dataclass
class Fault:
    """The next `times` requests whose path contains `path` (and whose method is `method`, if given: a write, not
    the read of the same path) get `reply` instead, after `delay` seconds; with no reply the connection is closed
    unanswered. `drop=True`: the request is carried out, then the connection is closed before the answer (the
    server did it; the client cannot know)."""

    path: str
    reply: Reply | None = None
    times: int = 1
    delay: float = 0.0
    drop: bool = False
    garble: bool = False  # the request is carried out, then answered 200 with a body cut short
    method: str | None = None

    def matches(self, request: Request) -> bool:
        return self.times > 0 and self.path in request.path and self.method in (None, request.method)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away before its answer (a killed process): nothing wrong here
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class StandIn:
    """Serve `handle(request) -> Reply` on 127.0.0.1 on a free port, with injectable faults."""

    def __init__(self, handle: Callable[[Request], Reply]) -> None:
        self._handle = handle
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        # Test hooks around every request: `before` may return "drop" to close the connection unanswered and
        # unhandled; `after` (called once handled) may return "drop" to close it without sending the answer.
        self.before: Callable[[Request], str | None] | None = None
        self.after: Callable[[Request], str | None] | None = None
        # A slow service: requests whose path contains a key wait that many seconds, then are carried out and
        # answered (what they do happens at the end of the wait: a client that gives up or dies meanwhile still
        # finds it done later).
        self.delays: dict[str, float] = {}
        # A query parameter given more than once (an array, as XRPC and Rails send them) comes as its values joined
        # with commas; otherwise the last one counts.
        self.join_repeated = False
        self._lock = threading.Lock()
        self._closing = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: without this, 40 ms a request

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query={k: ",".join(v) if outer.join_repeated else v[-1] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = outer._dispatch(request)
                if reply is None:
                    self.close_connection = True
                    return
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(payload)
                    return
                for i in range(len(payload)):
                    if outer._closing.wait(reply.drip):
                        return
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()

            do_GET = do_POST = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _dispatch(self, request: Request) -> Reply | None:
        if self.before is not None and self.before(request) == "drop":
            return None
        delay = next((seconds for path, seconds in self.delays.items() if path in request.path), 0.0)
        if delay:
            self._closing.wait(delay)
        reply = self._answer(request)
        if self.after is not None and self.after(request) == "drop":
            return None
        return reply

    def _answer(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self.faults if f.matches(request)), None)
            if fault is not None:
                fault.times -= 1
        if fault is None:
            with self._lock:
                return self._handle(request)
        if fault.drop or fault.garble:
            with self._lock:
                self._handle(request)
            return Reply(200, raw=b'{"ok": true, "chan') if fault.garble else None
        if fault.delay:
            self._closing.wait(fault.delay)
        return fault.reply

    def fail(
        self, path: str, reply: Reply | None = None, *, times: int = 1, delay: float = 0.0, drop: bool = False,
        garble: bool = False, method: str | None = None,
    ) -> None:
        with self._lock:
            self.faults.append(Fault(path, reply, times, delay, drop, garble, method))

    def fail_write(self, path: str, fault: WriteFault, reply: Reply) -> None:
        """The next POST to `path` fails the way a write can: "unavailable" answers `reply` (a 5xx) without doing
        it; "lost" does it and closes the connection before the answer; "cut" does it and answers a body cut short."""
        if fault == "unavailable":
            self.fail(path, reply, method="POST")
        else:
            self.fail(path, method="POST", drop=fault == "lost", garble=fault == "cut")

    def calls(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path in r.path]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> object:
    """Poll `predicate` until it is truthy; for end-to-end tests of a real process only."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
