"""The quickstart notebook executes top to bottom (spec → sweep → map → statistics → figure)."""
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # the notebook keeps its stores in tempfile.mkdtemp() folders, for the reader to explore
    # after it ends; the kernel inherits TMPDIR, so here they go where pytest cleans up
    # (they were left in /tmp by every run)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "networks in" in text  # the plan
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the figure was drawn
