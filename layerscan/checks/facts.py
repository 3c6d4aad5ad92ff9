"""What the checks need from file contents, taken while the layer scan reads them.

The checks run on the timeline, after the walk, when file bytes are gone; a few small files
are kept from the walk for them (the account files), and package databases are reduced to
the names of what they list as installed. Both go into the layer cache with the layer.
"""

from __future__ import annotations

import re

KEPT_FILES = frozenset({"etc/passwd", "etc/shadow"})
"""Files whose final version the account checks read."""
MAX_KEPT_BYTES = 256 << 10
"""An account file larger than this is not kept (real ones are a few kB)."""
PACKAGE_DATABASES = frozenset({"var/lib/dpkg/status", "lib/apk/db/installed"})
_DPKG_STANZA_PACKAGE = re.compile(r"^Package:\s*(\S+)", re.MULTILINE)
_DPKG_STATUS = re.compile(r"^Status:\s*(.+)$", re.MULTILINE)
MAX_PACKAGES = 100_000


def keeps(path: str) -> bool:
    """True for a file (path without a leading /) whose bytes a check needs."""
    return path in KEPT_FILES


def is_package_database(path: str) -> bool:
    return path in PACKAGE_DATABASES


def installed_packages(path: str, data: bytes) -> list[str]:
    """The names a dpkg status file or an apk database lists as installed."""
    text = data.decode("utf-8", "replace")
    names: list[str] = []
    if path == "lib/apk/db/installed":
        names = [line[2:].strip() for line in text.splitlines() if line.startswith("P:")]
    else:
        for stanza in text.split("\n\n"):
            package = _DPKG_STANZA_PACKAGE.search(stanza)
            status = _DPKG_STATUS.search(stanza)
            if package and (status is None or status.group(1).strip().endswith(" installed")):
                names.append(package.group(1))
    return sorted(set(names))[:MAX_PACKAGES]
