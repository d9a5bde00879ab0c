"""The regression test: the re-executed notebook's numbers against the committed run's, within tolerances.

`make test` re-executes the notebook into build/nbval (nbval compares every output that does not depend on
floating-point rounding), then runs this module (`pytest -m regression`). A number that depends on rounding
may move as much as it moves between seeds, since another processor (bfloat16 or not) perturbs training like
another seed does. So each tolerance is `SPREAD_FACTOR` times the standard deviation over seeds that
`benchmarks/training.py` measured and wrote to `reports/training_benchmark.json` (`seed_spread`), and never
less than `FLOOR`: with three seeds a spread can read zero (the Bag F1 did), and 0.002 is two test images
of a class of 1,000. Everything else (the recipe, the architecture,
the export's float32 parity) must match exactly or meet a fixed bar.
"""

import json
import os
from pathlib import Path

import pytest

from fmnist import evaluate

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "reports" / "metrics.json"
RERUN = Path(os.environ.get("FMNIST_RERUN_METRICS", ROOT / "build" / "nbval" / "reports" / "metrics.json"))
SPREAD_FACTOR = 3.0
FLOOR = 0.002

pytestmark = pytest.mark.regression


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(COMMITTED.read_text())


@pytest.fixture(scope="module")
def rerun() -> dict:
    if not RERUN.exists():
        pytest.fail(f"{RERUN} is missing: re-execute the notebook first (`make test` does)")
    return json.loads(RERUN.read_text())


@pytest.fixture(scope="module")
def spread() -> dict:
    return json.loads((ROOT / "reports" / "training_benchmark.json").read_text())["seed_spread"]


def tolerance(spread: dict, name: str) -> float:
    return max(SPREAD_FACTOR * spread[name], FLOOR)


def test_every_compared_figure_has_a_measured_spread(committed, spread):
    assert set(evaluate.rounding_dependent_figures(committed)) <= set(spread)


@pytest.mark.parametrize("name", list(evaluate.rounding_dependent_figures(json.loads(COMMITTED.read_text()))))
def test_figure_stays_within_the_seed_spread(committed, rerun, spread, name):
    expected, actual = (
        evaluate.rounding_dependent_figures(committed)[name],
        evaluate.rounding_dependent_figures(rerun)[name],
    )
    assert abs(actual - expected) <= tolerance(spread, name), (
        f"{name}: {actual} against the committed {expected}; allowed ±{tolerance(spread, name):.4f} "
        f"({SPREAD_FACTOR} × the seed spread {spread[name]:.4f})"
    )


def test_the_recipe_and_the_architecture_are_unchanged(committed, rerun):
    assert rerun["recipe"] == committed["recipe"]
    assert rerun["architecture"] == committed["architecture"]
    assert rerun["parameters"] == committed["parameters"]
    assert len(rerun["history"]["loss"]) == committed["recipe"]["epochs"]


def test_the_exported_models_agree_with_keras(rerun):
    parity = rerun["export_parity"]
    for name in ("saved_model", "tflite"):  # float32: only the order of the additions differs
        assert parity[name]["argmax_agreement"] >= 0.999, (name, parity[name])
        assert parity[name]["max_abs_probability_difference"] <= 1e-4, (name, parity[name])
    assert parity["tflite_int8"]["argmax_agreement"] >= 0.99, parity["tflite_int8"]
    assert parity["keras"]["accuracy"] == pytest.approx(rerun["test_accuracy"], abs=1e-6)
