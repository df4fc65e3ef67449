"""The notebooks run top to bottom on a small simulated book, in this venv's Python."""

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "arbiter-test-venv"


@pytest.fixture(scope="module")
def small_book(tmp_path_factory) -> Path:
    from features.book import write_book
    from features.simulator import SimulationConfig, simulate_book

    sim = simulate_book(SimulationConfig(customers=150, months=24, seed=3))
    folder = tmp_path_factory.mktemp("book")
    write_book({**sim.tables, "oracle": sim.oracle}, folder, meta={"as_of": str(sim.as_of.date())})
    return folder


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory) -> Path:
    """A kernelspec that starts this interpreter, so the notebooks see this venv's packages."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "arbiter venv", "language": "python"})
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", ["exploration.ipynb", "model_review.ipynb"])
def test_notebook_runs(name: str, small_book: Path, venv_kernel: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARBITER_BOOK", str(small_book))
    monkeypatch.setenv("JUPYTER_PATH", str(venv_kernel))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = " ".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    if name == "exploration.ipynb":
        assert "invoices" in text and "customers" in text
    else:
        assert "p10-p90 coverage" in text
