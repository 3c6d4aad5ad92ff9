"""layerscan: find secrets and build leaks in every layer of a container image.

The public API is what `__all__` names; everything else may change between releases.

    from layerscan import scan, ScanOptions

    result = scan("docker-archive:app.tar", ScanOptions(cache_dir=None))
    for finding in result.findings:
        print(finding.rule.id, finding.path, finding.status, finding.shown_secret(False))

`scan(target, options=None, progress=None) -> ScanResult` takes any target the command line
takes (`docker-archive:PATH`, `oci-dir:PATH`, `oci-archive:PATH`, `docker:REF`, `-`, or a bare
path or name) and raises a `LayerscanError` (whose `exit_code` the CLI uses) when the target
cannot be read at all; damage inside the image is in `result.problems`, not raised.

The names are loaded when first used, so that importing one module of the package (a worker,
a script reading only the image model) does not load the scanner.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .engine.options import ScanOptions, ScanResult
    from .engine.scan import scan
    from .errors import LayerscanError
    from .model.findings import Finding

__all__ = ["Finding", "LayerscanError", "ScanOptions", "ScanResult", "__version__", "scan"]

_HOMES = {
    "Finding": "layerscan.model.findings",
    "LayerscanError": "layerscan.errors",
    "ScanOptions": "layerscan.engine.options",
    "ScanResult": "layerscan.engine.options",
    "scan": "layerscan.engine.scan",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'layerscan' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
