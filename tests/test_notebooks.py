"""Every notebook in notebooks/ runs top to bottom on a fresh Jupyter kernel, and is committed
with its outputs stripped.

The notebooks check their own claims (asserts in their cells), so an error anywhere fails here.
Their dependencies are the `notebooks` extra, which the `test` extra includes; without them these
tests skip, unless NUMBAX_REQUIRE_OPTIONAL=1 (set by CI) makes that a failure."""
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_three_ways_to_differentiate", "02_jacobians", "03_models", "04_fitting",
            "05_under_the_hood", "06_higher_order_derivatives"]


def _client_modules():
    try:
        import nbclient
        import nbformat
        return nbclient, nbformat
    except ImportError as e:
        if os.environ.get("NUMBAX_REQUIRE_OPTIONAL") == "1":
            raise
        pytest.skip(f"notebook tests need the notebooks extra (pip install -e \".[notebooks]\"): {e}")


def test_the_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, \
                f"{path.name}: commit notebooks with their outputs stripped"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbclient, nbformat = _client_modules()
    # the kernel is a child process: it imports this checkout's numbax, and writes into tmp_path
    src = str(ROOT / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable, end='')"))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in ran)
    # the kernel ran this interpreter (a kernelspec named python3 could point elsewhere)
    assert ran[-1].outputs[0]["text"] == sys.executable
