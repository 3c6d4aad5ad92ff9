"""The images `hunt` is tested on, built by the engine from the busybox base.

A copies a zip holding a zip holding a file with the hunted string, then deletes it (RUN
rm); B holds nothing; C holds near misses (the string one character off, and cut short); D
holds a second secret every other way: a build arg, in ENV inside a longer base64 text, as
it is in a label, URL-encoded in a file, base64url in a file inside a zip in a tar.gz in a
zip; and a third secret as a file name. The secrets are random (fixtures/credentials.py and
the two functions below derive theirs from it): no rule would ever flag them.
"""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fixtures.build import BASE_IMAGE, build_saved, ensure_base
from fixtures.credentials import Credentials
from tests.support.samples import tar_bytes, zip_bytes


def forms_secret(credentials: Credentials) -> str:
    """A second secret, with characters URL encoding changes (from the first)."""
    hunted = credentials.hunted_string
    return hunted[:20] + "/+=&" + hunted[20:]


def name_secret(credentials: Credentials) -> str:
    """A third secret, one that only a file's name holds."""
    return credentials.hunted_string[::-1]


def near_miss(credentials: Credentials) -> str:
    hunted = credentials.hunted_string
    return hunted[:-1] + ("A" if hunted[-1] != "A" else "B")


def _build(engine: Any, folder: Path, name: str, dockerfile: str, **args: str) -> Path:
    tag = f"layerscan-fixture:hunt-{name}"
    return build_saved(engine, folder, tag, dockerfile, folder / f"{name}.tar", **args)


def build_hunt_images(engine: Any, credentials: Credentials, root: Path) -> dict[str, Path]:
    """The four images, saved as `docker save` tarballs under root, by name a to d."""
    ensure_base(engine)
    hunted, forms = credentials.hunted_string, forms_secret(credentials)
    built = {}
    for name in "abcd":
        (root / name).mkdir()
    inner = zip_bytes([("conf/key.txt", f"release-key: {hunted}\n"), ("README", "docs\n")])
    (root / "a" / "bundle.zip").write_bytes(zip_bytes([("inner.zip", inner), ("notes.txt", "x")]))
    built["a"] = _build(
        engine,
        root / "a",
        "a",
        f"FROM {BASE_IMAGE}\nCOPY bundle.zip /opt/bundle.zip\nRUN rm /opt/bundle.zip\n",
    )
    (root / "b" / "hello.txt").write_text("hello\n")
    built["b"] = _build(engine, root / "b", "b", f"FROM {BASE_IMAGE}\nCOPY hello.txt /srv/\n")
    (root / "c" / "near.txt").write_text(f"{near_miss(credentials)}\n{hunted[:30]}\n")
    built["c"] = _build(engine, root / "c", "c", f"FROM {BASE_IMAGE}\nCOPY near.txt /srv/\n")
    folder = root / "d"
    blob = base64.b64encode(b"header:" + forms.encode() + b":trailer").decode()
    (folder / "query.txt").write_text(f"GET /deploy?key={quote(forms, safe='')}&x=1\n")
    token = base64.urlsafe_b64encode(forms.encode()).decode()
    deep = zip_bytes([("cfg/token", f"token={token}\n")])
    package = gzip.compress(tar_bytes([("./lib/deep.zip", deep)]), mtime=0)
    (folder / "release.zip").write_bytes(zip_bytes([("pkg.tar.gz", package)]))
    built["d"] = _build(
        engine,
        folder,
        "d",
        f'FROM {BASE_IMAGE}\nARG DEPLOY_KEY\nENV BLOB={blob}\nLABEL org.example.key="{forms}"\n'
        "COPY query.txt release.zip /srv/\n"
        'RUN test -n "$DEPLOY_KEY" && mkdir -p /var/cache/tokens'
        f" && touch /var/cache/tokens/{name_secret(credentials)}.json\n",
        DEPLOY_KEY=forms,
    )
    return built


def truncated_copy(image: Path, folder: Path) -> Path:
    """The first third of an image tarball: a download cut short, for the unreadable case."""
    cut = folder / "cut.tar"
    data = image.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    return cut
