"""The demo's made-up host names, reachable: while `made_up_hosts` is in force, these names resolve to the machine's
own stand-ins, in this process only.

A Mastodon account is known by its instance (@acme@masto.test): the store keys it so, and every alert, report and
`status` line shows it so. The demo configures the account as a person would, by its instance's name, and this is
how the connection still reaches the stand-in on 127.0.0.1, without a hosts file and without a network. Every
client library the adapters use (requests, httpx) resolves through `socket.getaddrinfo`, looked up at each call."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

LOOPBACK = "127.0.0.1"


@contextmanager
def made_up_hosts(names: Mapping[str, str]) -> Iterator[None]:
    """Resolve each host name of `names` (lower case) to its address until the block ends; any other name as before."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if isinstance(host, str):
            host = names.get(host.lower().rstrip("."), host)
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real
