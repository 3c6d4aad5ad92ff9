"""Is a file third-party code? Then a secret in it is most likely a test key or an example.

Two kinds of evidence: the path (site-packages, node_modules, /usr/share/doc, ...) and the
image's own package databases (dpkg's *.list files, apk's installed db), which name every file
a package installed. Such findings are kept but marked low, unless a checksum proved them.
"""

from __future__ import annotations

import re

_VENDORED_PATH = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|bower_components|vendor|"
    r"\.m2/repository|go/pkg/mod|gems|\.cargo/registry|jspm_packages)/"
    r"|^/usr/share/(?:doc|man|info|licenses|common-licenses)/"
    r"|^/usr/share/[^/]+/(?:examples?|tests?|testdata)/"
)
_PACKAGE_ARCHIVE = re.compile(r"\.(?:whl|egg|gem|nupkg|crate)$")
"""Distribution formats of third-party packages: whatever is inside one is vendored."""
_PYCACHE = re.compile(r"^(?P<folder>.*)/__pycache__/(?P<module>[^/.]+)\.[^/]+\.pyc$")
_MERGED_TOP = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/")
"""Merged-/usr systems install /lib/x to /usr/lib/x; dpkg still lists the /lib path."""

_DPKG_LIST = re.compile(r"^/?var/lib/dpkg/info/[^/]+\.list$")
_APK_DB = re.compile(r"^/?lib/apk/db/installed$")


class PackageFiles:
    """Every path the image's package managers say they installed."""

    def __init__(self) -> None:
        self._paths: set[str] = set()

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def paths(self) -> set[str]:
        return set(self._paths)

    def update(self, paths: set[str]) -> None:
        """Add what another layer's package databases listed."""
        self._paths.update(paths)

    @staticmethod
    def is_database(path: str) -> bool:
        """True for files this index learns from (dpkg lists, the apk database)."""
        return bool(_DPKG_LIST.match(path) or _APK_DB.match(path))

    def learn(self, path: str, data: bytes) -> None:
        """Read one package database file met during the walk."""
        text = data.decode("utf-8", "replace")
        if _DPKG_LIST.match(path):
            self._paths.update(line.strip() for line in text.splitlines() if line.startswith("/"))
        elif _APK_DB.match(path):
            folder = ""
            for line in text.splitlines():
                if line.startswith("F:"):
                    folder = "/" + line[2:].strip()
                elif line.startswith("R:"):
                    self._paths.add(f"{folder}/{line[2:].strip()}")

    def owns(self, path: str) -> bool:
        """True if a package installed this path (or the source of this compiled .pyc)."""
        compiled = _PYCACHE.match(path)
        if compiled:
            path = f"{compiled['folder']}/{compiled['module']}.py"
        if path in self._paths:
            return True
        if path.startswith("/usr/"):
            return path[len("/usr") :] in self._paths
        return path.startswith(_MERGED_TOP) and "/usr" + path in self._paths


def is_vendored(path: str, packages: PackageFiles, nested_path: str | None = None) -> bool:
    """Third-party code by its place, its package archive, or a system package's file list."""
    if _VENDORED_PATH.search(path) or packages.owns(path):
        return True
    if nested_path is not None:
        members = "/" + nested_path.replace("!", "/")
        return bool(_PACKAGE_ARCHIVE.search(path) or _VENDORED_PATH.search(members))
    return False
