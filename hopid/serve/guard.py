"""What every request passes before the routes see it (an ASGI middleware): a trusted Host
header, and for a POST a JSON content type and a JSON body of bounded size and nesting, checked
before anything parses it."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import numpy as np

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = ("localhost", "127.0.0.1", "::1")
# a JSON string; one left open runs to the end of the body, so that every match ends at the end
# at worst and the scan stays linear (a body of '"' and many '\\"' was quadratic: days for 8 MiB)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)', re.DOTALL)


def _normal(name: str) -> str:
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name.rstrip(".")


def host_name(header: str) -> str:
    """The name of a Host header without its port: ``[::1]:8765`` -> ``::1``, lower case."""
    header = header.strip()
    if header.startswith("["):  # an IPv6 address, maybe with a port after the bracket
        return _normal(header[: header.find("]") + 1]) if "]" in header else ""
    return _normal(header.split(":")[0] if header.count(":") == 1 else header)


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names answered: loopback, the address listened on, and ``extra`` (--allow-host)."""
    return frozenset(_normal(name) for name in (*LOOPBACK, host, *extra))


def nesting_depth(body: bytes) -> int:
    """How deep arrays and objects nest in the JSON text ``body`` (strings skipped)."""
    tokens = np.frombuffer(_STRING.sub(b'""', body), dtype=np.uint8)
    steps = np.isin(tokens, (ord("["), ord("{"))).astype(np.int64) - np.isin(tokens, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


class Guard:
    """Refuses, with ``{"error"}`` and a 4xx, what the routes must never see: another Host
    (400: DNS rebinding), a POST that is not ``application/json`` (415: a cross-site form post),
    a body over ``max_body`` bytes (413, before it is read when Content-Length says so) or nested
    deeper than ``max_depth`` (400)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str], max_body: int, max_depth: int) -> None:
        self.app, self.hosts, self.max_body, self.max_depth = app, hosts, max_body, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            await _refuse(send, 400, f"Host {host!r} is not served; start hopid serve with --allow-host NAME")
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            await _refuse(send, 415, "the body must be application/json")
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(send, 413, f"the body is larger than {self.max_body:,} bytes", close=True)
            return
        body = await _read_body(receive, self.max_body)
        if body is None:  # the client went away
            return
        if len(body) > self.max_body:
            await _refuse(send, 413, f"the body is larger than {self.max_body:,} bytes", close=True)
            return
        if nesting_depth(body) > self.max_depth:
            await _refuse(send, 400, f"the body nests deeper than {self.max_depth} levels")
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, stopping once it is over ``limit`` bytes; None when the client left."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then what the server says next (a disconnect)

    return replay


async def _refuse(send: Send, status: int, message: str, close: bool = False) -> None:
    data = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    if close:  # the unread body must not be taken for the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
