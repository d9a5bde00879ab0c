"""The regression test: the re-executed notebook's numbers against the committed run's.

`make test` re-executes the notebook into build/nbval (nbval compares every output that does not depend on
floating-point rounding), then runs this module (`pytest -m regression`). Every number of metrics.json is
in one of four lists below, and `test_every_number_of_the_metrics_is_compared_or_excused` fails on a number
that is in none:

- `EXACT`: deterministic given the code, compared exactly;
- `TOLERATED` (`rounding_dependent_figures`, in benchmarks/regression_figures.py): numbers that move with the
  seed and the processor (bfloat16 or not perturbs training like another seed does), compared within the
  tolerances that `benchmarks/tolerances.py` measured over runs in both precisions
  (reports/regression_tolerances.json): for the difference of two runs, at an expected false-alarm rate of
  1 % for all of them together;
- `BARS`: numbers held to a fixed bar (the export's parity, the calibration and auto-tagging goals), each
  named in `bar_checks` (benchmarks/regression_figures.py);
- `NOT_COMPARED`: left out on purpose, each with the reason.
"""

import fnmatch
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.regression_figures import bar_checks, confused_pairs, confusions_agree, rounding_dependent_figures
from tests.committed import report

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "reports" / "metrics.json"
RERUN = Path(os.environ.get("FMNIST_RERUN_METRICS", ROOT / "build" / "nbval" / "reports" / "metrics.json"))

EXACT = [
    "recipe/*",
    "architecture/*",
    "parameters",
    "per_class/*/support",
    "similar_items/k",
    "similar_items/embedding_size",
    "similar_items/catalogue_items",
    "explanations/method",
    "explanations/images",
    "versions/tensorflow",
    "versions/keras",
    "versions/numpy",
    "versions/matplotlib",
    "versions/scikit-learn",
    "top_confusions/*/classes",  # the most confused pairs (`confusions_agree`)
]
TOLERATED = [  # the paths of `rounding_dependent_figures`
    "test_accuracy",
    "test_loss",
    "similar_items/precision_at_k",
    "history/val_accuracy",  # its last epoch
    "explanations/random_garment_drop_10",
    "explanations/deletion_drop_10/*",
    "per_class/*/f1-score",
    "per_class/*/precision",
    "per_class/*/recall",
    "calibration/temperature",
    "auto_tagging/*/coverage",
]
BARS = [
    "export_parity/*",
    "calibration/test_ece_after",
    "calibration/test_nll_*",
    "auto_tagging/*/accuracy",
    "training_precision",
]
NOT_COMPARED = {
    "train_seconds": "a timing: it depends on the machine and its load",
    "history/loss": "per-epoch values move with rounding; the final validation accuracy is compared",
    "history/accuracy": "per-epoch values move with rounding; the final validation accuracy is compared",
    "history/val_loss": "per-epoch values move with rounding; the final validation accuracy is compared",
    "versions/python": "the interpreter's patch version differs between supported machines",
    "calibration/test_ece_before": "the uncalibrated model's, shown for contrast; the calibrated one meets a bar",
    "auto_tagging/*/threshold": "a margin chosen on the validation split; what it does, the coverage, is compared",
    "top_confusions/*/images": "counts of a few dozen images, unmeasured spread; the pairs themselves are compared",
    "top_confusions/*/as_first": "counts of a few dozen images, unmeasured spread; the pairs are compared",
    "top_confusions/*/as_second": "counts of a few dozen images, unmeasured spread; the pairs are compared",
}

pytestmark = pytest.mark.regression


def leaves(value, prefix="") -> dict:
    """Every number or string in a metrics.json by its path, like "per_class/Bag/recall"; lists of numbers are
    one leaf, lists of records are indexed."""
    if isinstance(value, dict):
        return {path: leaf for key, item in value.items() for path, leaf in leaves(item, f"{prefix}{key}/").items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return {
            path: leaf for index, item in enumerate(value) for path, leaf in leaves(item, f"{prefix}{index}/").items()
        }
    return {prefix.rstrip("/"): value}


def covered(path: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(COMMITTED.read_text())


@pytest.fixture(scope="module")
def rerun() -> dict:
    if not RERUN.exists():
        pytest.fail(f"{RERUN} is missing: re-execute the notebook first (`make test` does)")
    return json.loads(RERUN.read_text())


@pytest.fixture(scope="module")
def tolerances() -> dict:
    return json.loads((ROOT / "reports" / "regression_tolerances.json").read_text())["tolerance"]


def test_every_number_of_the_metrics_is_compared_or_excused(committed):
    lists = [*EXACT, *TOLERATED, *BARS, *NOT_COMPARED]
    missing = [path for path in leaves(committed) if not covered(path, lists)]
    assert not missing, f"compare these numbers of metrics.json, or say in NOT_COMPARED why not: {missing}"


def test_every_tolerated_figure_has_a_measured_tolerance(committed, tolerances):
    assert set(rounding_dependent_figures(committed)) == set(tolerances)


@pytest.mark.parametrize("name", list(rounding_dependent_figures(json.loads(COMMITTED.read_text()))))
def test_figure_stays_within_its_tolerance(committed, rerun, tolerances, name):
    expected, actual = rounding_dependent_figures(committed)[name], rounding_dependent_figures(rerun)[name]
    assert abs(actual - expected) <= tolerances[name], (
        f"{name}: {actual} against the committed {expected}; allowed ±{tolerances[name]:.4f}"
    )


def exact_values(metrics: dict) -> dict:
    return {
        path: value
        for path, value in leaves(metrics).items()
        if covered(path, EXACT) and not path.startswith("top_confusions/")
    }


def test_the_recipe_architecture_and_library_versions_are_unchanged(committed, rerun):
    assert exact_values(rerun) == exact_values(committed)
    assert len(rerun["history"]["loss"]) == committed["recipe"]["epochs"]


def test_the_same_class_pairs_are_confused_most(committed, rerun):
    assert confusions_agree(rerun, committed), (confused_pairs(rerun), confused_pairs(committed))


@pytest.mark.parametrize("name", list(bar_checks(json.loads(COMMITTED.read_text()), report("metrics.json"))))
def test_bar(rerun, name):
    passed, reading = bar_checks(rerun, report("metrics.json"))[name]
    assert passed, f"{name}: {reading}"


@pytest.fixture(scope="module")
def exported():
    """The re-executed notebook's exported TFLite model and review thresholds, and the dataset's splits."""
    from fmnist import data
    from fmnist.core import runtime

    models = RERUN.parent.parent / "models"
    if not (models / "fashion_cnn.tflite").exists():
        pytest.fail(f"{models / 'fashion_cnn.tflite'} is missing: re-execute the notebook first (`make test` does)")
    return runtime.TFLiteClassifier(models / "fashion_cnn.tflite", 2), models, data.load_data()


def served_probabilities(classifier, images) -> np.ndarray:
    from fmnist import data, export

    return export.predict_in_batches(lambda batch: classifier(batch)[1], data.scale_images(images), 1000)


def test_the_exported_model_serves_the_calibration_the_notebook_reports(rerun, exported):
    """The probabilities the API serves are those whose calibration error and NLL the notebook reports."""
    from fmnist import calibrate

    classifier, _, (_, (test_images, test_labels)) = exported
    probabilities = served_probabilities(classifier, test_images)
    reported = rerun["calibration"]
    assert abs(calibrate.negative_log_likelihood(probabilities, test_labels) - reported["test_nll_after"]) < 1e-3
    assert abs(calibrate.expected_calibration_error(probabilities, test_labels) - reported["test_ece_after"]) < 1e-3


def test_the_temperature_and_the_thresholds_come_from_the_validation_split_as_drawn_and_augmented(rerun, exported):
    """Fitted again on the validation split and one copy drawn by a fresh augmentation of the recipe, from the
    served probabilities, they come out as the notebook's; and the image checks' limits, from the validation
    photos as drawn."""
    import keras

    from fmnist import calibrate, data, export
    from fmnist import recipe as notebook_recipe

    classifier, models, ((train_images, train_labels), _) = exported
    recipe = rerun["recipe"]
    _, (images, labels) = data.split_validation(train_images, train_labels, recipe["validation_size"], recipe["seed"])
    keras.mixed_precision.set_global_policy(rerun["training_precision"])  # the augmentation's rounding, as trained
    try:
        copy = notebook_recipe.build_augmentation(recipe["seed"])(data.scale_images(images), training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    review = np.concatenate([data.scale_images(images), np.asarray(copy, dtype="float32")])
    labels = np.tile(labels, 2)
    probabilities = export.predict_in_batches(lambda batch: classifier(batch)[1], review, 1000)
    temperature = rerun["calibration"]["temperature"]
    uncalibrated = calibrate.apply_temperature(probabilities, 1 / temperature)
    assert abs(calibrate.fit_temperature(uncalibrated, labels) - temperature) < 2e-3
    right, margins = probabilities.argmax(axis=1) == labels, calibrate.margin(probabilities)
    chosen = json.loads((models / "review_thresholds.json").read_text())
    for target, threshold in chosen["thresholds"].items():
        assert abs(calibrate.review_threshold(margins, right, float(target)) - threshold) < 1e-4, target
    assert calibrate.image_limits(data.scale_images(images)) == pytest.approx(chosen["image_limits"], rel=1e-6)


# The figures: `plots.save` writes, beside each PNG, what the figure draws (`figure_data.drawn`). Each figure is
# compared in two ways. Its layout against the committed run's: the same axes, lines, bars and images, the
# same labels (digits masked) where they do not name the model's answers, and the same pixels where the images
# come from the dataset. And its numbers against the re-executed run's own metrics, which the tests above hold
# to the committed run: a figure that draws something else than what the run reports fails here.
FIGURES = ROOT / "reports" / "figures"
ANSWER_LABELS = {  # titles that name the model's answers, which may change with rounding: labels not compared
    "predictions",
    "confident_mistakes",
    "explanations",
    "similar_items",
    "slide_similar_items",
    "probabilities_first_image",
    "probabilities_first_mistake",
}
DATASET_IMAGES = {"samples", "slide_samples", "augmentation", "predictions", "probabilities_first_image"}
# The augmentation's layers compute in the training precision: bfloat16 rounds the moved pixels otherwise than
# float32, so a rerun in another precision than the committed run's keeps that figure's image sizes alone.
ROUNDED_IN_TRAINING_PRECISION = {"augmentation"}


def drawn(folder: Path, name: str) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def words(labels: list) -> list:
    """The labels that hold words, numbers masked: the tick values of a numeric axis move between runs."""
    masked = [re.sub(r"\d+(\.\d+)?", "#", label) for label in labels]
    return [label for label in masked if re.search(r"[A-Za-z]{2,}", label.replace("mathdefault", ""))]


def layout(figure: dict, labels: bool, pixels: bool) -> list:
    """What a figure's layout must keep between runs: per axes its number of lines, its bars and images (their
    sizes, or the images' pixels) and its labels' words."""

    def size(values):
        return list(values["shape"]) if isinstance(values, dict) else list(np.shape(values))

    return [
        {
            "lines": len(axis["lines"]),
            "bars": [size(bars) for bars in axis["bars"]],
            "images": [image if pixels else size(image) for image in axis["images"]],
            "labels": words(axis["labels"]) if labels else None,
        }
        for axis in figure["axes"]
    ]


def reported_accuracy(reliability_axis: dict) -> list:
    """The accuracy over all test images of each model of the reliability diagram: its bins' accuracies
    weighted by their counts."""
    _, *accuracies = reliability_axis[0]["lines"]
    return [float(np.dot(a, c) / np.sum(c)) for a, c in zip(accuracies, reliability_axis[1]["lines"], strict=True)]


def drawn_numbers(name: str, figure: dict, metrics: dict) -> list:
    """(what, drawn, reported) for the numbers of figure `name` that the run also reports; both sides are
    rounded to 4 decimals."""
    from fmnist import CLASS_NAMES, explain

    axes, per_class = figure["axes"], metrics["per_class"]
    if name == "training_curves":
        keys = ("accuracy", "val_accuracy", "loss", "val_loss")
        lines = axes[0]["lines"] + axes[1]["lines"]
        return [
            (key, line, [round(v, 4) for v in metrics["history"][key]]) for key, line in zip(keys, lines, strict=True)
        ]
    if name == "per_class_scores":
        keys = ("precision", "recall", "f1-score")
        return [
            (key, bars, [per_class[c][key] for c in CLASS_NAMES])
            for key, bars in zip(keys, axes[0]["bars"], strict=True)
        ]
    if name == "confusion_matrix":
        matrix = np.array(axes[0]["images"][0])
        return [("recall (the diagonal)", np.diag(matrix).tolist(), [per_class[c]["recall"] for c in CLASS_NAMES])]
    if name == "reliability":
        served = metrics["export_parity"]["keras"]["accuracy"]
        return [("accuracy over the bins", reported_accuracy(axes), [served, served])]
    if name == "risk_coverage":
        points = [line[0] for line in axes[0]["lines"][1:]]  # the curve, then one point per target
        return [("accuracy at each target", points, [p["accuracy"] for p in metrics["auto_tagging"].values()])]
    if name == "deletion_curves":
        step = list(explain.DELETION_FRACTIONS).index(0.1)
        drops = [line[0] - line[step] for line in axes[0]["lines"][:-1]]  # the last: the 10 % marker
        explained = metrics["explanations"]
        methods = explained["deletion_drop_10"]  # the notebook draws a line per method, in `explain.METHODS` order
        reported = [*(methods[method] for method in explain.METHODS), explained["random_garment_drop_10"]]
        return [("probability drop at 10 %", drops, reported)]
    return []


LAYOUT_ONLY = {  # figures that draw no number the run reports: their layout is compared, and nothing else
    "samples": "the dataset's images, pixel by pixel",
    "slide_samples": "the dataset's images, pixel by pixel",
    "augmentation": "the dataset's images before and after the seeded shift, pixel by pixel",
    "predictions": "the first test images, pixel by pixel; the answers move with rounding",
    "confident_mistakes": "which images the model gets wrong most confidently moves with rounding",
    "explanations": "which images, and the maps, move with rounding",
    "similar_items": "which neighbours move with rounding",
    "probabilities_first_image": "the first test photo, pixel by pixel; its probabilities move with rounding",
    "probabilities_first_mistake": "which photo is the first mistake, and its probabilities, move with rounding",
    "slide_similar_items": "which neighbours move with rounding",
}


def figure_names(folder: Path) -> list:
    return sorted(path.stem for path in folder.glob("*.json"))


def test_the_rerun_saves_every_committed_figure_and_its_data():
    committed_figures = figure_names(FIGURES)
    assert committed_figures and figure_names(RERUN.parent / "figures") == committed_figures
    assert all((FIGURES / f"{name}.png").exists() for name in committed_figures)


def test_every_figure_draws_reported_numbers_or_is_compared_by_its_layout_alone(committed):
    for name in figure_names(FIGURES):
        assert bool(drawn_numbers(name, drawn(FIGURES, name), committed)) != (name in LAYOUT_ONLY), name


@pytest.mark.parametrize("name", figure_names(FIGURES))
def test_figure_keeps_the_committed_layout(name, rerun, committed):
    same_precision = rerun["training_precision"] == committed["training_precision"]
    labels = name not in ANSWER_LABELS
    pixels = name in DATASET_IMAGES and (same_precision or name not in ROUNDED_IN_TRAINING_PRECISION)
    ours, theirs = (layout(drawn(folder, name), labels, pixels) for folder in (RERUN.parent / "figures", FIGURES))
    assert ours == theirs


@pytest.mark.parametrize("name", [name for name in figure_names(FIGURES) if name not in LAYOUT_ONLY])
def test_figure_draws_what_the_run_reports(rerun, name):
    for what, ours, reported in drawn_numbers(name, drawn(RERUN.parent / "figures", name), rerun):
        assert np.size(ours) > 0, f"{name}: {what}: nothing drawn"
        np.testing.assert_allclose(ours, reported, atol=2e-4, err_msg=f"{name}: {what}")  # both rounded to 1e-4
