"""Where and with what a store was made: versions, git commit, CPU, arithmetic."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from xorsweep.kernels.vocab import ARITHS

# the texts stores made before exact-fma carry (kept so that their provenance stays the same)
_ARITH_TEXT = {"exact": "exp/log: xorsweep's own, built from IEEE basic operations (same bits on any IEEE-754 machine)",
               "libm": "exp/log: the platform's libm"}

PACKAGES = ("xorsweep", "numpy", "numba", "llvmlite", "dask", "distributed", "xarray", "zarr")


def versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_commit() -> str:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                           text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=Path(__file__).parent,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (r.stdout.strip() + ("-dirty" if dirty else "")) if r.returncode == 0 else "unknown"


def cpu() -> tuple[str, str]:
    model, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = value.strip()
    except OSError:
        pass
    return model, flags


def threading_layer_config() -> str:
    """numba's ``config.THREADING_LAYER`` as numba would set it in this process, without
    importing numba when it is not imported yet (0.3 s, which the calling process of a
    run on a cluster would spend on this one value): $NUMBA_THREADING_LAYER, else the
    ``threading_layer`` of a ``.numba_config.yaml`` in the working directory, else
    "default" (numba.core.config's own rule; tests/test_provenance.py compares the two)."""
    if "numba" in sys.modules:  # imported, or being imported (by another thread: the import waits for it)
        import numba

        return str(numba.config.THREADING_LAYER)
    value = os.environ.get("NUMBA_THREADING_LAYER")
    if value is None and os.path.isfile(".numba_config.yaml"):
        try:
            import yaml

            with open(".numba_config.yaml") as f:
                conf = yaml.safe_load(f)
        except Exception:  # noqa: BLE001 - no pyyaml (numba warns and ignores the file) or a file numba
            conf = None  # itself cannot read (numba then fails to import: nothing trains in this process)
        if isinstance(conf, dict):
            value = {"NUMBA_" + str(k).upper(): v for k, v in conf.items()}.get("NUMBA_THREADING_LAYER")
    return str("default" if value is None else value)


def provenance(arith: str) -> dict:
    model, flags = cpu()
    return {
        "versions": json.dumps(versions(), sort_keys=True),
        "git_commit": git_commit(),
        "cpu_model": model,
        "cpu_flags": flags,
        "platform": platform.platform(),
        "arith": arith,
        "arith_description": _ARITH_TEXT.get(arith) or ARITHS[arith],
        "numba_threading_layer_config": threading_layer_config(),
    }
