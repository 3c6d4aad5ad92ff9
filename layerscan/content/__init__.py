"""Bytes of a file version -> the scan units detectors see.

The kind of a file is told by its content (`sniff`), then:

- text is decoded (UTF-8, or UTF-16/32 by BOM) and scanned whole, line by line;
- zip/jar/war/whl, tar and gzip/xz/zstd/bzip2 streams are opened in memory and their members
  go through the same steps, at most `ContentLimits.max_depth` archives deep (`archives`);
- ELF binaries, Java classes and .pyc files are scanned through their printable strings;
- SQLite databases are read row by row from a private read-only copy (`sqlite`);
- media and other binaries yield no unit, only a `Skipped` with the reason, which the report
  counts in its summary.

Everything is bounded by `ContentLimits` (size, ratio, members, depth, time).
"""

from __future__ import annotations

# units_of is imported from .dispatch by who runs it: dispatch loads every reader (python-magic
# among them), and the limits are needed by a rescan served from the cache, which reads none.
from .limits import DEFAULT_LIMITS, ContentLimits
from .model import Reason, Skipped, Unit

__all__ = ["DEFAULT_LIMITS", "ContentLimits", "Reason", "Skipped", "Unit"]
