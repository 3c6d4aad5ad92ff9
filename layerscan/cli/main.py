"""The console entry point (`layerscan`, `python -m layerscan`).

An error layerscan did not expect ends here: one line on stderr and exit code 4, never a
traceback and never 1, which a CI gate reads as "secrets found" (set LAYERSCAN_DEBUG=1 for
the traceback).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import traceback
from types import FrameType

from ..engine.memory import return_large_buffers
from ..errors import EXIT_INTERNAL
from ..report.table import terminal_safe
from .app import app

EXIT_INTERRUPTED = 130
"""What a shell reports for a program ended by Ctrl-C (128 + SIGINT)."""


class _Interrupted(BaseException):
    """Ctrl-C, raised past click, which would turn a KeyboardInterrupt into exit 1: the code
    a CI gate reads as "secrets found"."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted


def internal_error_line(exc: BaseException) -> str:
    """The one line an unexpected error is reported as (terminal-safe: the message may quote
    names from the image)."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" in {os.path.basename(last.filename)}:{last.lineno}"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if len(text) > 300:
        text = text[:300] + "…"
    return terminal_safe(
        f"layerscan: internal error{where}: {text}; the scan did not complete "
        f"(exit {EXIT_INTERNAL}; a bug: please report it with the command line)"
    )


def main() -> None:
    """Run the command line. Leaves without tearing the heap down object by object (a third
    of a second after scanning a 50,000-file image): every file and pool is closed by then,
    and the output streams and logs are flushed here."""
    return_large_buffers()
    # A scan allocates millions of short-lived objects and makes few cycles: collecting every
    # 700 allocations (the default) cost 0.5 s of a 1 GB image's scan, every 20,000 0.2 s.
    gc.set_threshold(20_000, 20, 20)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_INTERNAL
    except (_Interrupted, KeyboardInterrupt):
        print("layerscan: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, exit 4
        if os.environ.get("LAYERSCAN_DEBUG") == "1":
            traceback.print_exc()
        print(internal_error_line(exc), file=sys.stderr)
        code = EXIT_INTERNAL
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass  # a closed pipe (`layerscan ... | head`): nothing more can be said
    os._exit(code)
