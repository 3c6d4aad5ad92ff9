"""Registry credentials as the user already has them: Docker's config.json and its helpers.

Looked up in this order, as `docker pull` does: `credHelpers[host]`, then `credsStore` (both
run `docker-credential-<name> get` with the host on stdin), then `auths[host].auth`
(base64 `user:password`) or `identitytoken`. `--username` with `--password-stdin` comes
before all of them; with none of them the registry is asked anonymously. Credentials are
kept in memory only, never logged and never put in a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

MAX_CONFIG_BYTES = 1 << 20
_HELPER_SECONDS = 30


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    """A password, or an identity (refresh) token when `username` is `<token>`."""
    origin: str = ""
    """Where they came from, for messages: `--username`, `credHelpers (ecr-login)`..."""

    @property
    def is_identity_token(self) -> bool:
        return self.username == "<token>"


def docker_config_path() -> Path:
    """$DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    folder = os.environ.get("DOCKER_CONFIG")
    return Path(folder or Path.home() / ".docker") / "config.json"


def _load_config(path: Path) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"{path} is over 1 MiB: not a Docker config")
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path} is not valid JSON") from exc
    return loaded if isinstance(loaded, dict) else {}


def _keys_for(host: str) -> list[str]:
    """The names config.json may file a host under (docker login writes some with a scheme)."""
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]


def _from_helper(helper: str, host: str) -> Credentials | None:
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run(
            [program, "get"],
            input=host.encode(),
            capture_output=True,
            timeout=_HELPER_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise UsageError(
            f"the Docker config names the credential helper {helper!r} for {host}, but "
            f"{program} is not on PATH"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"{program} did not answer within {_HELPER_SECONDS} s") from exc
    if done.returncode != 0:
        return None  # "credentials not found in native keychain": ask anonymously
    try:
        answer = json.loads(done.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{program} answered something that is not credentials") from exc
    return Credentials(username, secret, f"credential helper {helper}")


def _from_auths(entry: object, host: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials("<token>", token, "config.json identitytoken")
    auth = entry.get("auth")
    if not isinstance(auth, str) or not auth:
        return None
    try:
        decoded = base64.b64decode(auth, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise UsageError(
            f"the Docker config's auth for {host} is not base64 user:password"
        ) from exc
    username, colon, password = decoded.partition(":")
    if not colon:
        raise UsageError(f"the Docker config's auth for {host} is not user:password")
    return Credentials(username, password, "config.json auths")


def lookup(host: str, config_path: Path | None = None) -> Credentials | None:
    """The user's credentials for `host`, or None to go anonymously."""
    config = _load_config(config_path or docker_config_path())
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key in _keys_for(host):
            if isinstance(helpers.get(key), str):
                return _from_helper(str(helpers[key]), host)
    auths = config.get("auths")
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = _from_helper(store, host)
        if found is not None:
            return found
    if isinstance(auths, dict):
        for key in _keys_for(host):
            if key in auths:
                return _from_auths(auths[key], host)
    return None
