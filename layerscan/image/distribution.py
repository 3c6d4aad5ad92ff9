"""The OCI distribution API over HTTP: manifests, blobs, auth, TLS, redirects and retries.

Built on requests (the Docker SDK's own HTTP client, so no new dependency): it verifies TLS
with the system CAs (or `--ca-file` / SSL_CERT_FILE), takes proxies from the standard
environment variables, and streams a response without holding it. On top of it, this module
does what the distribution spec asks of a client:

- **Auth.** A request goes out anonymously; a 401 names the scheme. `Basic` is answered with
  the user's credentials; `Bearer realm=…,service=…,scope=…` by asking the realm for a token
  (with the credentials, if any) and caching it per scope until it expires. Credentials and
  tokens are sent to the registry's own host only: a redirect to another host (a blob in
  object storage) is followed without the Authorization header.
- **Retries.** Connection errors, 429 and 5xx are retried with backoff, honouring
  Retry-After, at most four times and 30 s in all.
- **Errors.** Each failure is one line naming the host, the repository and the HTTP status,
  with what to do (401: how to log in; 404: repository or tag missing; TLS: `--ca-file`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import dataclass, field
from typing import BinaryIO, cast
from urllib.parse import urljoin, urlparse

import requests

from ..errors import ImageFormatError, TargetError
from .credentials import Credentials, lookup
from .reference import Reference

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
MAX_MANIFEST_BYTES = 4 << 20
"""A manifest or index of a real image is a few KB; past this it is refused, not read."""
MAX_CONFIG_BYTES = 16 << 20
MAX_TOKEN_BYTES = 1 << 20
"""A token answer is a few KB of JSON; a realm sending more is refused before it is parsed."""
_MAX_TOKEN_LIFE = 24 * 3600.0
_MAX_ERROR_BYTES = 64 << 10
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_RETRIES = 4
_RETRY_BUDGET = 30.0
_MAX_REDIRECTS = 5
_TIMEOUT = (15.0, 60.0)
"""(connect, read) seconds: a registry that stops sending mid-layer fails the layer."""
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries: what the command line's registry options say."""

    ca_file: str | None = None
    insecure_hosts: frozenset[str] = frozenset()
    """Hosts spoken to over plain HTTP (only these: TLS everywhere else)."""
    credentials: Credentials | None = None
    """--username / --password-stdin: used before anything config.json holds."""


@dataclass
class _Token:
    value: str
    expires: float


@dataclass
class _Challenge:
    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def _parse_challenge(header: str) -> _Challenge:
    """`Bearer realm="https://auth",service="registry",scope="repository:x:pull"`."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    while rest:
        key, eq, rest = rest.partition("=")
        if not eq:
            break
        rest = rest.lstrip()
        if rest.startswith('"'):
            end = rest.find('"', 1)
            value, rest = (rest[1:end], rest[end + 1 :]) if end > 0 else (rest[1:], "")
        else:
            value, _, rest = rest.partition(",")
        params[key.strip().strip(",").strip().lower()] = value
        rest = rest.lstrip().lstrip(",").lstrip()
    return _Challenge(scheme.lower(), params)


class RegistryClient:
    """One repository of one registry, spoken to over the distribution API."""

    def __init__(self, reference: Reference, options: RegistryOptions) -> None:
        self.reference = reference
        self.options = options
        self.host = reference.host
        scheme = "http" if self.host in options.insecure_hosts else "https"
        self.base = f"{scheme}://{self.host}"
        self.session = requests.Session()
        # Given with each request: requests lets REQUESTS_CA_BUNDLE override a session's.
        self._verify: str | bool = options.ca_file or True
        self._credentials: Credentials | bool | None = False  # False: not looked up yet
        self._tokens: dict[str, _Token] = {}
        self._basic = False
        self.bytes_downloaded = 0
        """Blob bytes read from the network: what a rescan saves, measured."""

    def close(self) -> None:
        self.session.close()

    # -- credentials and auth ----------------------------------------------------------------

    def credentials(self) -> Credentials | None:
        if self._credentials is False:
            self._credentials = self.options.credentials or lookup(self.host)
        return self._credentials if isinstance(self._credentials, Credentials) else None

    def _scope(self) -> str:
        return f"repository:{self.reference.repository}:pull"

    def _authorization(self) -> dict[str, str]:
        token = self._tokens.get(self._scope())
        if token is not None and token.expires > time.monotonic():
            return {"Authorization": f"Bearer {token.value}"}
        if self._basic:
            creds = self.credentials()
            if creds is not None:
                return {
                    "Authorization": requests.auth._basic_auth_str(creds.username, creds.password)
                }
        return {}

    def _authenticate(self, response: requests.Response) -> bool:
        """Answer a 401's challenge; False when there is nothing more to try."""
        challenge = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge.scheme == "basic":
            if self._basic or self.credentials() is None:
                return False
            self._basic = True
            return True
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return False
        scope = self._scope()
        if scope in self._tokens and self._tokens[scope].expires > time.monotonic():
            del self._tokens[scope]  # refused although fresh: fetch a new one, once
        self._tokens[scope] = self._fetch_token(challenge, scope)
        return True

    def _fetch_token(self, challenge: _Challenge, scope: str) -> _Token:
        params = {"scope": challenge.params.get("scope", scope)}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        creds = self.credentials()
        auth = None
        if creds is not None and not creds.is_identity_token:
            auth = (creds.username, creds.password)
        realm = challenge.params["realm"]
        self._check_realm(realm, creds is not None)
        try:
            if creds is not None and creds.is_identity_token:
                answer = self.session.post(
                    realm,
                    stream=True,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": creds.password,
                        "client_id": "layerscan",
                        **params,
                    },
                    timeout=_TIMEOUT,
                    verify=self._verify,
                )
            else:
                answer = self.session.get(
                    realm,
                    params=params,
                    auth=auth,
                    timeout=_TIMEOUT,
                    verify=self._verify,
                    stream=True,
                )
        except requests.exceptions.SSLError as exc:
            raise TargetError(self._tls_message(exc, urlparse(realm).netloc)) from exc
        except requests.RequestException as exc:
            raise TargetError(
                f"the token service {realm} of {self.host} cannot be reached ({type(exc).__name__})"
            ) from exc
        if answer.status_code in (401, 403):
            raise TargetError(self._denied(answer.status_code, "the token service refused"))
        if answer.status_code != 200:
            raise TargetError(
                f"the token service of {self.host} answered HTTP {answer.status_code} for "
                f"{self.reference.repository}"
            )
        try:
            body = self._read_bounded(answer, MAX_TOKEN_BYTES, f"the token answer of {self.host}")
            document = json.loads(body)
            value = document.get("token") or document.get("access_token")
            expires_in = float(document.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError) as exc:
            raise TargetError(f"the token service of {self.host} answered no token") from exc
        finally:
            answer.close()
        if not isinstance(value, str) or not value:
            raise TargetError(f"the token service of {self.host} answered no token")
        if not math.isfinite(expires_in):
            expires_in = 60.0
        expires_in = min(max(expires_in, 1.0), _MAX_TOKEN_LIFE)  # a hostile lifetime is clamped
        # Renewed a little before the registry would refuse it (a tenth of its life, at most
        # 10 s early), so a layer is never requested with a token about to expire.
        return _Token(value, time.monotonic() + expires_in - min(expires_in / 10, 10))

    def _check_realm(self, realm: str, with_credentials: bool) -> None:
        """The realm is the registry's to name, so a hostile one could ask for the password
        in clear: credentials go to an http:// realm only on this machine or on a host the
        user listed with --insecure-registry."""
        parsed = urlparse(realm)
        if parsed.scheme == "https" or (not with_credentials and parsed.scheme == "http"):
            return
        if parsed.scheme != "http":
            raise TargetError(f"{self.host} names a token service that is not HTTP(S): refused")
        if parsed.hostname in _LOOPBACK or parsed.netloc in self.options.insecure_hosts:
            return
        raise TargetError(
            f"{self.host} asks for your credentials at {parsed.netloc} over plain HTTP; refused "
            f"(list that host with --insecure-registry {parsed.netloc} if you trust the network)"
        )

    # -- requests ----------------------------------------------------------------------------

    def _tls_message(self, exc: Exception, host: str) -> str:
        return (
            f"TLS verification of {host} failed ({type(exc).__name__}); for a private CA "
            "pass --ca-file (or set SSL_CERT_FILE), for a registry without TLS "
            f"--insecure-registry {self.host}"
        )

    def _denied(self, status: int, what: str = "denied access") -> str:
        creds = self.credentials()
        how = (
            f"the credentials from {creds.origin} were not accepted"
            if creds is not None
            else f"log in with `docker login {self.host}` or pass --username and --password-stdin"
        )
        return f"{self.host} {what} to {self.reference.repository} (HTTP {status}): {how}"

    def get(
        self, path: str, headers: dict[str, str] | None = None, stream: bool = False
    ) -> requests.Response:
        """GET a path of the API with auth, redirects and retries; a 2xx response or a
        TargetError saying why not."""
        url = self.base + path
        authenticated = False
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = self._follow(url, headers or {}, stream)
            except requests.exceptions.SSLError as exc:
                raise TargetError(self._tls_message(exc, self.host)) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if self._may_retry(attempt, started, None):
                    attempt += 1
                    continue
                raise TargetError(
                    f"{self.host} cannot be reached for {self.reference.repository} "
                    f"({type(exc).__name__}) after {attempt + 1} attempts"
                ) from exc
            if response.status_code == 401 and not authenticated:
                response.close()
                authenticated = True
                if self._authenticate(response):
                    continue
                raise TargetError(self._denied(401))
            if response.status_code in (401, 403):
                response.close()
                raise TargetError(self._denied(response.status_code))
            if response.status_code == 429 or response.status_code >= 500:
                response.close()
                if self._may_retry(attempt, started, response):
                    attempt += 1
                    continue
                raise TargetError(
                    f"{self.host} answered HTTP {response.status_code} for "
                    f"{self.reference.repository} after {attempt + 1} attempts"
                )
            return response

    def _may_retry(self, attempt: int, started: float, response: requests.Response | None) -> bool:
        if attempt >= _RETRIES:
            return False
        delay = 0.5 * 2**attempt
        if response is not None:
            after = response.headers.get("Retry-After", "")
            if after.isdigit():
                delay = float(after)
        if time.monotonic() - started + delay > _RETRY_BUDGET:
            return False
        time.sleep(delay)
        return True

    def _follow(self, url: str, headers: dict[str, str], stream: bool) -> requests.Response:
        """Redirects by hand: the Authorization header goes to the registry's host only."""
        own = urlparse(self.base).netloc
        for _ in range(_MAX_REDIRECTS + 1):
            sent = dict(headers)
            if urlparse(url).netloc == own:
                sent.update(self._authorization())
            response = self.session.get(
                url,
                headers=sent,
                stream=stream,
                allow_redirects=False,
                timeout=_TIMEOUT,
                verify=self._verify,
            )
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise TargetError(f"{self.host} redirected without a Location")
            url = urljoin(url, location)
        raise TargetError(f"{self.host} redirected more than {_MAX_REDIRECTS} times")

    # -- the API -----------------------------------------------------------------------------

    def _not_found(self, response: requests.Response, what: str) -> TargetError:
        codes = ""
        try:  # an error body is a few hundred bytes; a hostile one is not read past 64 KiB
            body = self._read_bounded(response, _MAX_ERROR_BYTES, f"the 404 answer for {what}")
            errors = json.loads(body).get("errors") or []
            codes = " ".join(str(error.get("code")) for error in errors if isinstance(error, dict))
        except (TargetError, ValueError, AttributeError):
            codes = ""
        repository = self.reference.repository
        if "NAME_UNKNOWN" in codes or (what.startswith("tag ") and not self._repository_exists()):
            return TargetError(f"{self.host} has no repository {repository!r} (HTTP 404)")
        return TargetError(f"{self.host}/{repository} has no {what} (HTTP 404)")

    def _repository_exists(self) -> bool:
        """Registries answer MANIFEST_UNKNOWN for a tag of a repository they do not have;
        its tag list says which it is (NAME_UNKNOWN)."""
        try:
            response = self.get(f"/v2/{self.reference.repository}/tags/list?n=1", stream=True)
        except TargetError:
            return True  # cannot tell: say the tag is missing, as the registry did
        with response:
            return response.status_code != 404

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index, by tag or digest; a digest
        asked for is checked against the bytes."""
        path = f"/v2/{self.reference.repository}/manifests/{reference}"
        response = self.get(path, {"Accept": MANIFEST_ACCEPT}, stream=True)
        with response:
            if response.status_code == 404:
                what = (
                    f"manifest {reference}"
                    if reference.startswith("sha256:")
                    else f"tag {reference!r}"
                )
                raise self._not_found(response, what)
            if response.status_code != 200:
                raise TargetError(
                    f"{self.host} answered HTTP {response.status_code} for manifest {reference}"
                )
            body = self._read_bounded(response, MAX_MANIFEST_BYTES, f"the manifest {reference}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise ImageFormatError(
                f"the manifest {self.host} served for {reference} hashes to {digest}: tampered"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return body, media_type, digest

    def _read_bounded(self, response: requests.Response, limit: int, what: str) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ImageFormatError(
                f"{what} is {int(declared):,} bytes; refusing more than {limit:,}"
            )
        data = bytearray()
        try:
            for chunk in response.iter_content(64 << 10):
                data += chunk
                if len(data) > limit:
                    raise ImageFormatError(f"{what} is over {limit:,} bytes; refused")
        except requests.RequestException as exc:
            raise TargetError(
                f"{self.host} broke off sending {what} ({type(exc).__name__})"
            ) from exc
        return bytes(data)

    def blob_bytes(self, digest: str, limit: int, what: str) -> bytes:
        """A small blob (the config) whole, checked against its digest."""
        response = self.get(f"/v2/{self.reference.repository}/blobs/{digest}", stream=True)
        with response:
            if response.status_code == 404:
                raise self._not_found(response, f"blob {digest}")
            if response.status_code != 200:
                raise TargetError(f"{self.host} answered HTTP {response.status_code} for {what}")
            data = self._read_bounded(response, limit, what)
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageFormatError(
                f"{what} from {self.host} does not match its digest {digest}: tampered"
            )
        return data

    def open_blob(self, digest: str, size: int | None) -> BinaryIO:
        """A layer blob as a stream from the network, its digest checked as it is read: the
        last read fails (the layer is damaged, exit 3) if the bytes were not the digest's."""
        try:
            response = self.get(f"/v2/{self.reference.repository}/blobs/{digest}", stream=True)
        except TargetError as exc:
            raise OSError(str(exc)) from exc
        if response.status_code != 200:
            response.close()
            raise OSError(f"{self.host} answered HTTP {response.status_code} for blob {digest}")
        return cast(
            BinaryIO, io.BufferedReader(_VerifiedBlob(self, response, digest, size), _CHUNK)
        )


class _VerifiedBlob(io.RawIOBase):
    """A blob's response body, hashed as it is read and checked at its end."""

    def __init__(
        self, client: RegistryClient, response: requests.Response, digest: str, size: int | None
    ) -> None:
        self._client = client
        self._response = response
        self._raw = response.raw
        self._digest = digest
        self._size = size
        self._sha = hashlib.sha256()
        self._read = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        try:
            data = self._raw.read(len(view), decode_content=False)
        except Exception as exc:  # urllib3's ProtocolError, ReadTimeoutError...: the layer broke
            raise OSError(
                f"{self._client.host} stopped sending blob {self._digest[:19]}… after "
                f"{self._read:,} bytes ({type(exc).__name__})"
            ) from exc
        if not data:
            self._check()
            return 0
        n = len(data)
        if self._size is not None and self._read + n > self._size:
            raise OSError(
                f"blob {self._digest[:19]}… from {self._client.host} is longer than the "
                f"{self._size:,} bytes its manifest declares: tampered or corrupt"
            )
        view[:n] = data
        self._sha.update(data)
        self._read += n
        self._client.bytes_downloaded += n
        return n

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._size is not None and self._read != self._size:
            raise OSError(
                f"blob {self._digest[:19]}… from {self._client.host} ended after {self._read:,} "
                f"of {self._size:,} bytes"
            )
        actual = "sha256:" + self._sha.hexdigest()
        if actual != self._digest:
            raise OSError(
                f"blob {self._digest[:19]}… from {self._client.host} hashes to {actual[:19]}…: "
                "tampered or corrupt"
            )

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()
