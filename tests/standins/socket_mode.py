"""A stand-in for Slack's Socket Mode websocket: says hello when a client connects, sends envelopes the way
Slack does (`{"envelope_id", "type", "payload", "accepts_response_payload"}`), and keeps each acknowledgement
(`{"envelope_id", "payload"}`) with the time it took."""

from __future__ import annotations

import json
import threading
import time
import uuid

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class SocketModeStandIn:
    def __init__(self) -> None:
        self.acks: dict[str, tuple[dict | None, float]] = {}
        self._sent: dict[str, float] = {}
        self._connections: list[ServerConnection] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket=t-secret-ticket&app_id=A0APP"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}))
        with self._lock:
            self._connections.append(connection)
        self._connected.set()
        try:
            for raw in connection:
                message = json.loads(raw)
                envelope_id = message.get("envelope_id")
                if envelope_id:
                    with self._lock:
                        self.acks[envelope_id] = (message.get("payload"), time.monotonic() - self._sent.get(envelope_id, 0))
        except ConnectionClosed:
            pass

    def wait_connected(self, timeout: float = 10) -> bool:
        return self._connected.wait(timeout)

    def send(self, kind: str, payload: dict) -> str:
        """Deliver one envelope to the connected client; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True, "retry_attempt": 0}
        with self._lock:
            self._sent[envelope_id] = time.monotonic()
            connection = self._connections[-1]
        connection.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 5) -> tuple[dict | None, float] | None:
        """The acknowledgement's payload and how long it took, once it came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if envelope_id in self.acks:
                    return self.acks[envelope_id]
            time.sleep(0.02)
        return None

    def close(self) -> None:
        self._server.shutdown()
