"""Where the project's own files are, for tests in any folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BUNDLED_DEMO = ROOT / "fixtures" / "demo.tar"
