"""A fault-injecting HTTP proxy in front of a real registry, for the faults a real registry
cannot be made to show on demand: 503 and 429 answers, a manifest that is not JSON or is
huge, a blob longer than it is, a blob redirected to another host ("object storage"), a
connection cut mid-blob.

Everything else is forwarded to the registry unchanged. The proxy asks for HTTP basic auth
itself (so credentials are in play), and the storage host records every Authorization
header it is sent: the test of "credentials never go to another host".
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from tests.support.registry import PASSWORD, USER


@dataclass
class Faults:
    fail_first: int = 0
    """Answer this many requests 503 (Retry-After: 1) before forwarding any."""
    status: int = 503
    manifest_body: bytes | None = None
    """Serve this instead of every manifest."""
    redirect_blobs: bool = False
    cut_blob_after: int | None = None
    """Send this many bytes of a blob over 100 kB, then close the connection."""
    overlong_blobs: int = 0
    """Send this many bytes more than each blob over 100 kB holds (Content-Length saying so)."""
    seen_by_storage: list[str | None] = field(default_factory=list)
    """The Authorization header of each request the storage host got."""
    requests: int = 0


@dataclass
class Proxy:
    host: str
    storage: str
    faults: Faults


def _handler(upstream: str, faults: Faults, storage: list[str]) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            faults.requests += 1
            if self.path.startswith("/v2/") and self.headers.get("Authorization") != expected:
                self._send(401, b"{}", {"WWW-Authenticate": 'Basic realm="proxy"'})
                return
            if faults.fail_first > 0:
                faults.fail_first -= 1
                self._send(faults.status, b"{}", {"Retry-After": "1"})
                return
            if "/manifests/" in self.path and faults.manifest_body is not None:
                self._send(
                    200,
                    faults.manifest_body,
                    {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
                )
                return
            if "/blobs/" in self.path and faults.redirect_blobs:
                self._send(307, b"", {"Location": f"http://{storage[0]}{self.path}"})
                return
            answer = requests.get(
                f"http://{upstream}{self.path}",
                headers={k: v for k, v in self.headers.items() if k.lower() == "accept"},
                stream=True,
                timeout=30,
            )
            body = answer.raw.read()
            headers = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() in ("content-type", "docker-content-digest")
            }
            if "/blobs/" in self.path and faults.cut_blob_after and len(body) > 100_000:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: faults.cut_blob_after])
                self.wfile.flush()
                self.close_connection = True
                return
            if "/blobs/" in self.path and faults.overlong_blobs and len(body) > 100_000:
                body += b"\0" * faults.overlong_blobs
            self._send(answer.status_code, body, headers)

    return Handler


def _storage_handler(upstream: str, faults: Faults) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:
            faults.seen_by_storage.append(self.headers.get("Authorization"))
            answer = requests.get(f"http://{upstream}{self.path}", timeout=30)
            self.send_response(answer.status_code)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

    return Handler


@contextmanager
def faulty_proxy(upstream: str, faults: Faults) -> Iterator[Proxy]:
    """A proxy for the registry at `upstream` (plain HTTP, no auth), and its storage host."""
    storage_address: list[str] = []
    storage = ThreadingHTTPServer(("127.0.0.1", 0), _storage_handler(upstream, faults))
    storage_address.append(f"127.0.0.1:{storage.server_port}")
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, faults, storage_address))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (proxy, storage)]
    for thread in threads:
        thread.start()
    try:
        yield Proxy(f"127.0.0.1:{proxy.server_port}", storage_address[0], faults)
    finally:
        for server in (proxy, storage):
            server.shutdown()
            server.server_close()
