"""Byte-level TCP relays in front of a real registry, for what its own behaviour cannot time:

- `pausing_relay` passes bytes through unchanged, and the first time one connection has carried
  `after_bytes` from the server it holds that connection still and calls `on_pause` (the test
  crashes the registry there, mid-response), then passes on whatever the server had already
  sent and closes: the client sees exactly what a registry stopped mid-layer leaves it.
- `connect_proxy` is the HTTP proxy `HTTPS_PROXY` names: it answers `CONNECT host:port`,
  records the target and tunnels the bytes (TLS stays end to end between client and registry).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

_CHUNK = 64 << 10


def _pump(source: socket.socket, sink: socket.socket, watch: Callable[[int], None]) -> None:
    """Copy until either side ends, then end the other direction too."""
    try:
        while True:
            data = source.recv(_CHUNK)
            if not data:
                break
            watch(len(data))
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (sink, source):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _join(client: socket.socket, upstream: socket.socket, watch: Callable[[int], None]) -> None:
    back = threading.Thread(target=_pump, args=(upstream, client, watch), daemon=True)
    back.start()
    _pump(client, upstream, lambda _n: None)
    back.join()
    client.close()
    upstream.close()


@contextmanager
def _serving(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=handle, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join()
        listener.close()


@dataclass
class Pause:
    fired: threading.Event = field(default_factory=threading.Event)
    carried: int = 0
    """Bytes the paused connection had carried from the server when it was held."""


@contextmanager
def pausing_relay(
    upstream_port: int, after_bytes: int, on_pause: Callable[[], None]
) -> Iterator[tuple[str, Pause]]:
    """A relay to 127.0.0.1:upstream_port; see the module docstring."""
    pause = Pause()
    lock = threading.Lock()

    def handle(client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=5)
        except OSError:
            client.close()  # the server is down: the client sees a refused connection
            return
        upstream.settimeout(None)
        carried = 0

        def watch(n: int) -> None:
            nonlocal carried
            carried += n
            with lock:
                if carried < after_bytes or pause.fired.is_set():
                    return
                pause.carried = carried
                on_pause()  # in the server-to-client pump: nothing more is passed meanwhile
                pause.fired.set()

        _join(client, upstream, watch)

    with _serving(handle) as host:
        yield host, pause


@contextmanager
def connect_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP CONNECT proxy on 127.0.0.1 and the `host:port` of every tunnel it opened."""
    tunnels: list[str] = []

    def handle(client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16 << 10:
            data = client.recv(4096)
            if not data:
                client.close()
                return
            head += data
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        upstream.settimeout(None)
        tunnels.append(target)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _join(client, upstream, lambda _n: None)

    with _serving(handle) as host:
        yield host, tunnels
