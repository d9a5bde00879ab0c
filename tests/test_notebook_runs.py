"""A learner's edits run the notebook to the end: fewer epochs and images (papermill parameters), a changed
network (an edited cell), and a cell run twice. Each run trains on a few thousand images, a minute or two."""

import json
import re

import nbformat
import papermill
import pytest
from nbclient import NotebookClient

from tests.committed import NOTEBOOK

QUICK = {"EPOCHS": 2, "TRAIN_IMAGES": 3000}

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(1800)]  # a run of the notebook: minutes, not seconds


def parameterised(tmp_path, edit=None, **parameters):
    """The notebook with `parameters` injected by papermill (not executed), and `edit` applied to its cells."""
    prepared = tmp_path / "prepared.ipynb"
    parameters = {**parameters, "RESULTS_DIR": str(tmp_path / "results")}
    papermill.execute_notebook(NOTEBOOK, prepared, parameters=parameters, prepare_only=True, progress_bar=False)
    notebook = nbformat.read(prepared, as_version=4)
    for cell in notebook.cells:
        cell.source = edit(cell.source) if edit else cell.source
    return notebook


def run(notebook, tmp_path, repeat: str | None = None) -> list:
    """Execute every cell in order, the cell that starts with `repeat` twice; the outputs of its two runs."""
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    repeated = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            runs = 2 if repeat and cell.source.startswith(repeat) else 1
            for _ in range(runs):
                client.execute_cell(cell, index)
                if runs == 2:
                    repeated.append([output.get("text") for output in cell.outputs])
    return repeated


def test_fewer_epochs_run_to_the_end_and_a_repeated_calibration_cell_gives_the_same_figures(tmp_path):
    repeated = run(parameterised(tmp_path, **QUICK), tmp_path, repeat="from fmnist import calibrate")
    assert len(repeated) == 2 and repeated[0] == repeated[1] and "temperature" in repeated[0][0]
    metrics = json.loads((tmp_path / "results" / "reports" / "metrics.json").read_text())
    assert metrics["recipe"]["epochs"] == 2 and len(metrics["history"]["loss"]) == 2
    assert f"temperature {metrics['calibration']['temperature']:.2f}" in repeated[0][0]
    assert (tmp_path / "results" / "Fashion_MNIST_Presentation.pptx").is_file()


def test_a_network_with_another_width_and_an_extra_dense_layer_runs_to_the_end(tmp_path):
    def edit(source):
        extra = '        layers.Dense(64, activation="relu", name="extra"),\n        layers.Dense(dense_units,'
        source = source.replace("def build_model(filters=(32, 64)", "def build_model(filters=(16, 32)")
        return source.replace("        layers.Dense(dense_units,", extra)

    run(parameterised(tmp_path, edit, **QUICK), tmp_path)
    metrics = json.loads((tmp_path / "results" / "reports" / "metrics.json").read_text())
    layers = {layer["name"]: layer for layer in metrics["architecture"]}
    assert layers["extra"]["output_shape"] == "64" and layers["conv_2"]["output_shape"] == "14×14×32"
    assert (tmp_path / "results" / "models" / "fashion_cnn.tflite").is_file()


def printed(cell) -> str:
    """All that a cell printed, its stream outputs joined."""
    return "".join(output.get("text", "") for output in cell.outputs if output.get("output_type") == "stream")


def test_running_the_fit_cell_again_stops_with_a_sentence_that_leads_to_the_same_training(tmp_path):
    from nbclient.exceptions import CellExecutionError

    notebook = parameterised(tmp_path, **QUICK)
    fit = next(i for i, cell in enumerate(notebook.cells) if "model.fit(" in cell.source)
    start = next(i for i, cell in enumerate(notebook.cells) if cell.source.startswith("def build_augmentation("))
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    with client.setup_kernel():
        for index in range(fit + 1):
            client.execute_cell(notebook.cells[index], index)
        trained = printed(notebook.cells[fit])
        with pytest.raises(CellExecutionError, match="trained already: to train afresh, run the cells from"):
            client.execute_cell(notebook.cells[fit], fit)
        for index in range(start, fit + 1):  # what the sentence says: from build_augmentation's cell on
            client.execute_cell(notebook.cells[index], index)
    again = printed(notebook.cells[fit])
    losses = [re.findall(r" - loss: ([\d.]+)", text) for text in (trained, again)]
    assert len(losses[0]) == QUICK["EPOCHS"] and losses[1] == losses[0]  # trained afresh, to the same figures
