"""The store's provenance: numba's threading-layer setting read without importing numba,
compared with numba's own value in fresh processes."""
import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from xorsweep.sweep.provenance import threading_layer_config
mine = threading_layer_config()
assert "numba" not in sys.modules, "numba was imported"
import numba
print(json.dumps([mine, str(numba.config.THREADING_LAYER), threading_layer_config()]))
"""


@pytest.mark.parametrize("env, yaml_text", [
    (None, None),
    ("omp", None),
    ("", None),
    (None, "threading_layer: workqueue\n"),
    ("tbb", "threading_layer: workqueue\n"),
    (None, "num_threads: 1\n"),
])
def test_threading_layer_config_is_numbas_own_without_importing_it(tmp_path, env, yaml_text):
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    if env is not None:
        environ["NUMBA_THREADING_LAYER"] = env
    if yaml_text is not None:
        (tmp_path / ".numba_config.yaml").write_text(yaml_text)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=environ, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    mine, numbas, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert mine == numbas == after


RACE = """
import sys, threading
from xorsweep.sweep.provenance import threading_layer_config
assert "numba" not in sys.modules
t = threading.Thread(target=lambda: __import__("numba"))
t.start()
while "numba" not in sys.modules:  # numba's import has begun in the other thread ...
    pass
print(threading_layer_config())  # ... and is waited for, not read half-made
t.join()
"""


def test_threading_layer_config_waits_for_an_import_of_numba_under_way_in_another_thread():
    """What a run on an in-process cluster does: a worker thread imports numba (the warm
    check) while the calling thread records the provenance."""
    out = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "default"
