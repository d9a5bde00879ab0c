"""The notebook defines the recipe; `fmnist.recipe`, which the benchmarks, multi-worker training and the tests
train, is generated from its cells tagged `recipe` (`fmnist.notebook_recipe`)."""

import json

import keras
import numpy as np

from fmnist import notebook_recipe, recipe
from tests.committed import NOTEBOOK, ROOT

MODULE = ROOT / "src" / "fmnist" / "recipe.py"


def test_the_recipe_module_is_generated_from_the_notebook_as_it_stands():
    assert MODULE.read_text(encoding="utf-8") == notebook_recipe.recipe_source(NOTEBOOK), (
        "src/fmnist/recipe.py is stale: run `make recipe` (make run does)"
    )


def edited_recipe(tmp_path, old: str, new: str) -> dict:
    """The recipe module of a copy of the notebook with one edit, executed: its names."""
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [cell for cell in notebook["cells"] if old in "".join(cell["source"])]
    assert len(cells) == 1, f"{old!r} should be in one cell"
    cells[0]["source"] = "".join(cells[0]["source"]).replace(old, new)
    copy = tmp_path / "edited.ipynb"
    copy.write_text(json.dumps(notebook), encoding="utf-8")
    namespace = {}
    exec(notebook_recipe.recipe_source(copy), namespace)
    return namespace


def test_a_learners_edit_of_the_network_reaches_what_the_project_trains(tmp_path):
    extra = '        layers.Dense(32, activation="relu", name="extra"),\n        layers.Dense(dense_units,'
    edited = edited_recipe(tmp_path, "        layers.Dense(dense_units,", extra)
    network = edited["build_model"](filters=(4, 8), dense_units=16)
    assert [layer.name for layer in network.layers][-4:] == ["extra", "dense", "embedding", "probabilities"]
    assert network.get_layer("dense").kernel.shape == (32, 16)  # the dense layer now reads the new one


def test_a_learners_edit_of_a_setting_reaches_what_the_project_trains(tmp_path):
    edited = edited_recipe(tmp_path, "LABEL_SMOOTHING = 0.1", "LABEL_SMOOTHING = 0.05")
    network = edited["build_model"](filters=(4, 8), dense_units=16)
    edited["compile_model"](network, total_steps=100)
    assert network.loss.get_config()["label_smoothing"] == 0.05


def test_the_same_seed_builds_the_same_starting_weights():
    first, second = (recipe.build_model(filters=(4, 8), dense_units=16, seed=3) for _ in range(2))
    for ours, theirs in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_compile_model_warms_up_to_the_peak_then_decays_to_zero():
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    recipe.compile_model(network, total_steps=200)
    schedule = network.optimizer.get_config()["learning_rate"]
    rate = keras.optimizers.schedules.deserialize(schedule)
    assert float(rate(0)) == 0 and np.isclose(float(rate(10)), recipe.LEARNING_RATE) and float(rate(200)) < 1e-9
    assert network.loss.get_config()["label_smoothing"] == recipe.LABEL_SMOOTHING
