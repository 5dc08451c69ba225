"""A TCP relay on 127.0.0.1 that can freeze its connections without closing them.

A frozen connection stays open at both ends but no byte moves through it in either direction, as with a
half-dead load balancer or NAT entry: nothing tells either side that the stream is gone. Connections
accepted after a freeze forward normally, so a client that abandons a silent connection and opens a new
one recovers. TLS passes through untouched.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: socket.socket
    upstream: socket.socket
    frozen: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()


class FreezingProxy:
    """Relays 127.0.0.1:<port> to `upstream`; `freeze()` silences every connection open at that moment."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> FreezingProxy:
        self._spawn(self._accept_loop)
        return self

    def freeze(self) -> int:
        """Stops forwarding on every open connection, keeping it open; returns how many were frozen."""
        with self._lock:
            live = [link for link in self._links if not link.closed.is_set()]
        for link in live:
            link.frozen.set()
        return len(live)

    def stop(self) -> None:
        """Closes the listener and every connection, and waits for the relay threads to end."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FreezingProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
                self.accepted += 1
            self._spawn(self._pump, link, client, upstream)
            self._spawn(self._pump, link, upstream, client)

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket) -> None:
        while not (self._stopping.is_set() or link.closed.is_set()):
            if link.frozen.is_set():
                # Leave the bytes in the kernel's buffers: the peers see an open, silent connection.
                link.closed.wait(0.2)
                continue
            try:
                readable, _, _ = select.select([source], [], [], 0.2)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                if link.frozen.is_set():
                    continue  # frozen while this chunk was in hand: it is lost, as on a dead path
                sink.sendall(data)
            except OSError:
                break
        if not link.frozen.is_set():
            link.close()
