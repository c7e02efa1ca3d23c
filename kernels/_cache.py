"""Point Numba's on-disk cache at a folder keyed by the kernels' own source.

Numba only checks the timestamp of the file that holds a cached function, not of the
files it calls into; keying the folder by a hash of every kernel source file that numba
compiles (those importing numba, and the layout constants they read) makes a stale cache
impossible, while editing pure-Python modules (the vocabulary, outcome tables) does not
force a recompile. A user-set ``NUMBA_CACHE_DIR`` is respected and keyed the same way
(a subfolder ``xorsweep-<digest>``): kernels cached there by another version of xorsweep,
whose inlined helpers differ, are never loaded.
"""
import hashlib
import os
from pathlib import Path

import numba


def _source_digest() -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        text = path.read_bytes()
        if b"numba" not in text and path.name != "layout.py":
            continue
        h.update(path.name.encode())
        h.update(text)
    return h.hexdigest()[:16]


if os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = str(Path(os.environ["NUMBA_CACHE_DIR"]) / f"xorsweep-{_source_digest()}")
else:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xorsweep" / "numba"
    numba.config.CACHE_DIR = str(base / _source_digest())


#: gradient -> the kernel module that trains with it (both update orders)
KERNEL_MODULES = {"numerical": "seed", "analytic": "gd"}


def is_warm(gradient: str) -> bool:
    """Whether numba's cache already holds compiled code of the ``gradient``'s kernels."""
    folder = Path(numba.config.CACHE_DIR)
    module = KERNEL_MODULES[gradient]
    try:
        return any(p.name.startswith(f"{module}.") and p.suffix == ".nbi" for p in folder.rglob("*.nbi"))
    except OSError:
        return False
