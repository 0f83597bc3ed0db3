"""``hopid serve`` under uvicorn: a bound socket (a clean error when the port is taken or the
host is not an address here), timeouts for idle and stalled connections, quiet logs, and
start/stop from a thread for tests. The routes are :mod:`hopid.serve.app`'s."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from collections.abc import Iterable
from pathlib import Path

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from hopid.errors import HopidError
from hopid.gallery.files import trusted_images_folder
from hopid.search.searcher import Searcher
from hopid.serve.app import make_app

KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
REQUEST_S = 10.0  # a request's headers and body must arrive within this (slow or stalled clients)
BACKLOG = 512


class TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol plus a deadline for receiving each request: uvicorn times
    out idle keep-alive connections only, so a client that connects and sends nothing, or half
    its headers or body, would hold its connection forever."""

    request_timeout = REQUEST_S
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.request_timeout, self._expire)

    def _expire(self) -> None:
        """Close the connection when a request is still arriving (or none came); an app
        waiting for the rest of a body then receives a disconnect."""
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``; a HopidError saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise HopidError(f"--host {host!r} is not an address to listen on ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise HopidError(
                f"port {port} on {host} is already in use; stop what uses it or pick another --port (0: any free port)"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise HopidError(f"--host {host!r} is not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise HopidError(f"port {port} needs privileges; pick one above 1023 with --port") from None
        raise HopidError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


class Server:
    """A uvicorn server on an already bound socket: ``serve_forever`` (blocks), ``shutdown``
    (from another thread), ``server_close``; ``server_address`` is (host, port) as bound."""

    def __init__(
        self,
        app,
        sock: socket.socket,
        images_folder: Path | None,
        access_log: bool = False,
        request_timeout: float = REQUEST_S,
    ) -> None:
        self.socket = sock
        self.images_folder = images_folder  # the folder whose indexed images are served (None: none)
        self.server_address: tuple[str, int] = sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            http=type("TimedH11Protocol", (TimedH11Protocol,), {"request_timeout": request_timeout}),
            loop="asyncio",
            ws="none",
            lifespan="off",
            interface="asgi3",
            log_config=None,  # uvicorn's loggers propagate to the CLI's: errors only
            log_level=logging.INFO if access_log else logging.ERROR,
            access_log=access_log,
            server_header=False,
            proxy_headers=False,  # the client address is the socket's, not a header's
            timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=5,
            backlog=BACKLOG,
        )
        logging.getLogger("uvicorn.error").setLevel(logging.ERROR)  # no start/stop chatter, no bad-request lines
        self._server = uvicorn.Server(config)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Serve until ``shutdown`` (or, in the main thread, SIGINT/SIGTERM: uvicorn stops
        gracefully, then re-raises the signal, so Ctrl-C ends in KeyboardInterrupt)."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._stopped.wait(timeout)

    def server_close(self) -> None:
        self.socket.close()


def make_server(
    searcher: Searcher,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    images: Path | None = None,
    allow_hosts: Iterable[str] = (),
    access_log: bool = False,
    request_timeout: float = REQUEST_S,
) -> Server:
    """A server (not yet serving: call ``serve_forever``) answering for ``searcher``. Its images
    are served when :func:`trusted_images_folder` trusts the index's folder (``images``: the
    folder named by the person serving); ``request_timeout``: seconds a request may take to arrive."""
    folder = trusted_images_folder(searcher.index_dir, searcher.root, images)
    app = make_app(searcher, folder, host, allow_hosts)
    return Server(app, listening_socket(host, port), folder, access_log, request_timeout)
