"""A real registry server for the tests: Debian's `docker-registry` (distribution) on
127.0.0.1, with TLS from a test CA and htpasswd basic auth, or plain HTTP without auth.

Images are pushed to it with skopeo (whose --dest-cert-dir takes a folder holding only the
CA's `*.crt`). The server's access log (its stderr) is kept, so a test can count the blobs a
scan downloaded.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER = "layerscan-test"
PASSWORD = "fabricated-password-for-the-test-registry"  # a test fixture, not a secret


@dataclass
class Registry:
    host: str
    """127.0.0.1:PORT"""
    folder: Path
    ca_file: Path | None
    cert_dir: Path | None
    """Only the CA's .crt: what skopeo's --dest-cert-dir wants."""
    log: Path
    auth: bool
    command: list[str] = field(default_factory=list)
    """How the server was started, so that a test can crash it and start it again."""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (again, on the same port and storage); its log is appended to."""
        with open(self.log, "ab") as sink:
            self.process = subprocess.Popen(
                self.command,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},
            )
        _wait_for(int(self.host.rsplit(":", 1)[1]), self.process, self.log)

    def crash(self) -> None:
        """SIGKILL the server, as a crash or an OOM kill would stop it: no draining."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def push(self, source: str, repository_tag: str) -> None:
        """skopeo copy SOURCE docker://HOST/REPO:TAG."""
        args = ["skopeo", "copy", "-q"]
        if self.cert_dir is not None:
            args += ["--dest-cert-dir", str(self.cert_dir)]
        else:
            args += ["--dest-tls-verify=false"]
        if self.auth:
            args += ["--dest-creds", f"{USER}:{PASSWORD}"]
        subprocess.run(
            [*args, source, f"docker://{self.host}/{repository_tag}"],
            check=True,
            capture_output=True,
            text=True,
        )

    def blob_requests(self) -> list[str]:
        """The digests of every blob GET the server answered 200 so far (its access log)."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if '"GET /v2/' in line and "/blobs/sha256:" in line and '" 200 ' in line:
                found.append(line.split("/blobs/", 1)[1].split(" ", 1)[0])
        return found

    def docker_config(self, folder: Path, password: str = PASSWORD) -> Path:
        """A DOCKER_CONFIG folder whose config.json logs in to this registry."""
        import base64

        folder.mkdir(parents=True, exist_ok=True)
        auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
        (folder / "config.json").write_text(json.dumps({"auths": {self.host: {"auth": auth}}}))
        return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1: (ca.crt, server.crt, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "layerscan test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("docker-registry did not start listening within 30 s")


@contextmanager
def running_registry(
    folder: Path,
    tls: bool = True,
    auth: bool = True,
    token: tuple[TokenServer, Path] | None = None,
) -> Iterator[Registry]:
    """Start a registry server; stop it (and keep nothing running) when the block ends."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise FileNotFoundError(
            "docker-registry is not installed (apt-get install docker-registry)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    ca_file = cert_dir = None
    if tls:
        ca_file, cert, key = make_ca(folder / "tls")
        config["http"] = {
            "addr": f"127.0.0.1:{port}",
            "tls": {"certificate": str(cert), "key": str(key)},
        }
        cert_dir = folder / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        shutil.copy(ca_file, cert_dir / "ca.crt")
    if token is not None:
        realm, bundle = token
        config["auth"] = {
            "token": {
                "realm": realm.url,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(bundle),
            }
        }
    elif auth:
        hashed = subprocess.run(
            ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
        ).stdout
        (folder / "htpasswd").write_text(hashed)
        config["auth"] = {"htpasswd": {"realm": "layerscan-test", "path": str(folder / "htpasswd")}}
    (folder / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    log = folder / "registry.log"
    log.write_bytes(b"")
    server = Registry(
        f"127.0.0.1:{port}",
        folder,
        ca_file,
        cert_dir,
        log,
        auth or token is not None,
        command=[binary, "serve", str(folder / "config.yml")],
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


# --- token auth -----------------------------------------------------------------------------

SERVICE = "layerscan-test-registry"
ISSUER = "layerscan-test-token-issuer"


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """The registry's token realm: it checks the user's basic auth and signs a JWT (ES256,
    with its certificate in `x5c`) that the registry verifies against the test CA."""

    url: str
    issued: list[float]
    """When each token was handed out (time.time())."""
    lifetime: int
    announced: float | str | None = None
    """The `expires_in` it answers (a test may set a hostile one); None: `lifetime`."""
    body: bytes | None = None
    """Answer this instead of a token (a hostile realm)."""


def _signed_token(
    key: ec.EllipticCurvePrivateKey, cert_der: bytes, scope: str, lifetime: int
) -> str:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    now = int(time.time())
    access = []
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if kind == "repository" and name:
        access.append({"type": "repository", "name": name, "actions": actions.split(",")})
    header = {
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [__import__("base64").b64encode(cert_der).decode()],
    }
    claims = {
        "iss": ISSUER,
        "sub": USER,
        "aud": SERVICE,
        "exp": now + lifetime,
        "nbf": now - 5,
        "iat": now,
        "jti": os.urandom(8).hex(),
        "access": access,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{_b64url(signature)}"


@contextmanager
def token_server(
    folder: Path, lifetime: int = 300, announced: float | None = None
) -> Iterator[tuple[TokenServer, Path]]:
    """A token endpoint on 127.0.0.1 and the certificate bundle the registry trusts; its
    tokens expire after `lifetime` s and it says they last `announced` s (a skewed clock)."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "layerscan test token signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    bundle = folder / "token-signer.crt"
    bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    state = TokenServer("", [], lifetime, announced)
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            query = parse_qs(urlparse(self.path).query)
            scope = (query.get("scope") or [""])[0]
            token = _signed_token(key, der, scope, lifetime)
            state.issued.append(time.time())
            expires = lifetime if state.announced is None else state.announced
            body = state.body or json.dumps({"token": token, "expires_in": expires}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        state.url = f"http://127.0.0.1:{server.server_port}/token"
        yield state, bundle
    finally:
        server.shutdown()
        server.server_close()
