"""What each figure draws: its data, colours and axes, read back from the matplotlib objects (not pixels)."""

import json

import matplotlib
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from fmnist import CLASS_NAMES, calibrate, figure_data, plots

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_the_confusion_matrix_is_normalised_over_each_true_class():
    truth = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 0])
    figure = plots.confusion_matrix(truth, predicted)
    matrix = figure.axes[0].images[0].get_array()
    assert matrix.shape == (10, 10)
    np.testing.assert_allclose(matrix[0, :3], [0.75, 0.25, 0])  # row 0: three of four right, one taken for 1
    np.testing.assert_allclose(matrix[2, [0, 2]], [0.5, 0.5])
    np.testing.assert_allclose(matrix[:3].sum(axis=1), 1)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels == list(CLASS_NAMES) and figure.axes[0].get_ylabel() == "True label"


def test_prediction_titles_are_blue_when_right_and_red_when_wrong_with_the_confidence():
    probabilities = np.full((3, 10), 0.02)
    probabilities[[0, 1, 2], [3, 5, 7]] = 0.82
    figure = plots.prediction_grid(np.zeros((3, 28, 28)), np.array([3, 4, 7]), probabilities, columns=3)
    titles = [axis.title for axis in figure.axes[:3]]
    assert [title.get_color() for title in titles] == [plots.RIGHT, plots.WRONG, plots.RIGHT]
    assert titles[1].get_text() == f"{CLASS_NAMES[5]} 82%\n(true: {CLASS_NAMES[4]})"


def test_training_curves_plot_each_epoch_of_both_metrics_for_training_and_validation():
    history = {"loss": [1.0, 0.6, 0.5], "val_loss": [0.9, 0.7, 0.65], "accuracy": [0.6, 0.8, 0.85]}
    history["val_accuracy"] = [0.65, 0.78, 0.8]
    figure = plots.training_curves(history)
    accuracy_axis, loss_axis = figure.axes
    for axis, metric in ((accuracy_axis, "accuracy"), (loss_axis, "loss")):
        training, validation = axis.get_lines()
        np.testing.assert_array_equal(training.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(training.get_ydata(), history[metric])
        np.testing.assert_array_equal(validation.get_ydata(), history[f"val_{metric}"])
        assert axis.get_xlabel() == "epoch"
    assert accuracy_axis.get_title().startswith("Accuracy") and loss_axis.get_title().startswith("Loss")


def test_per_class_bars_show_precision_recall_and_f1_of_each_class():
    report = {name: {"precision": 0.9, "recall": 0.8, "f1-score": 0.85} for name in CLASS_NAMES}
    report["Shirt"] = {"precision": 0.7, "recall": 0.65, "f1-score": 0.675}
    figure = plots.per_class_scores(report)
    bars = figure.axes[0].containers
    assert [container.get_label() for container in bars] == ["precision", "recall", "f1-score"]
    shirt = CLASS_NAMES.index("Shirt")
    assert [container[shirt].get_height() for container in bars] == [0.7, 0.65, 0.675]


def test_the_sample_grid_shows_the_first_images_of_each_class_in_its_column():
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 28, 28)), np.arange(40) % 10
    figure = plots.sample_grid(images, labels, per_class=2)
    axes = np.array(figure.axes).reshape(2, 10)
    for label in range(10):
        assert axes[0, label].get_title().replace("\n", "") == CLASS_NAMES[label]
        for row in range(2):
            np.testing.assert_array_equal(axes[row, label].images[0].get_array(), images[label + 10 * row])


def test_the_reliability_diagram_plots_each_bins_accuracy_against_its_confidence():
    probabilities = np.array([[0.9, 0.1], [0.1, 0.9], [0.55, 0.45]])
    table = calibrate.reliability(probabilities, np.array([0, 0, 0]))
    figure = plots.reliability_diagram({"model": table})
    diagonal, line = figure.axes[0].get_lines()
    np.testing.assert_array_equal(diagonal.get_xdata(), [0, 1])
    np.testing.assert_allclose(line.get_xdata(), [0.55, 0.9])
    np.testing.assert_allclose(line.get_ydata(), [1.0, 0.5])
    assert line.get_label() == "model"


def test_the_risk_coverage_curve_and_its_operating_points():
    curve = calibrate.risk_coverage(np.array([0.9, 0.5, 0.7, 0.1]), np.array([True, True, False, True]))
    chosen = {"0.99": {"coverage": 0.25, "accuracy": 1.0}}
    figure = plots.risk_coverage(curve, chosen)
    line, point = figure.axes[0].get_lines()
    np.testing.assert_allclose(line.get_xdata(), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(line.get_ydata(), [1.0, 0.5, 2 / 3, 0.75])
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (0.25, 1.0)
    assert point.get_label() == "target 99.0%: 25%"


def test_similar_items_titles_are_blue_for_the_same_class_and_red_otherwise():
    neighbours, similarities = np.array([[1, 2]]), np.array([[0.95, 0.5]])
    catalogue_labels = np.array([4, 4, 6])
    figure = plots.similar_items_grid(
        np.zeros((1, 28, 28)), np.array([4]), np.zeros((3, 28, 28)), catalogue_labels, neighbours, similarities
    )
    query, same, other = figure.axes
    assert query.get_title() == f"query\n{CLASS_NAMES[4]}"
    assert same.title.get_color() == plots.RIGHT and same.get_title() == f"{CLASS_NAMES[4]}\ncos 0.95"
    assert other.title.get_color() == plots.WRONG


def test_the_training_curves_are_scaled_to_the_epochs_after_the_first():
    history = {
        "accuracy": [0.6, 0.9, 0.92],
        "val_accuracy": [0.29, 0.91, 0.93],
        "loss": [2, 1, 0.9],
        "val_loss": [3, 1, 0.8],
    }
    accuracy_axis, _ = plots.training_curves(history).axes
    low, high = accuracy_axis.get_ylim()
    assert 0.29 < low < 0.9 and 0.93 < high < 1


def test_the_probability_bars_draw_the_ten_probabilities_and_colour_the_answer():
    probabilities = np.array([0.05, 0.6, 0.3, 0.05, 0, 0, 0, 0, 0, 0])
    _, bars = plots.probability_bars(np.zeros((28, 28, 1)), probabilities, truth=2).axes
    np.testing.assert_allclose([bar.get_width() for bar in bars.patches], probabilities)
    assert matplotlib.colors.same_color(bars.patches[1].get_facecolor(), plots.WRONG)  # Trouser, truth Pullover
    assert bars.get_yticklabels()[2].get_fontweight() == "bold"


def test_the_augmentation_figure_shows_each_image_before_after_and_their_difference():
    before = np.zeros((2, 28, 28, 1))
    before[:, 10:12, 10:12] = 1
    after = np.roll(before, 1, axis=2)
    figure = plots.augmentation_pairs(before, after)
    difference = figure.axes[4].get_images()[0].get_array()
    np.testing.assert_array_equal(difference, after[0, ..., 0] - before[0, ..., 0])


def test_the_confusion_matrix_leaves_shares_under_half_a_percent_blank():
    truth, predicted = np.repeat(np.arange(10), 300), np.repeat(np.arange(10), 300)
    predicted[0] = 6  # one T-shirt of 300 taken for a shirt: 0.3 %
    predicted[1:31] = 2  # thirty for pullovers: 10 %
    texts = plots.confusion_matrix(truth, predicted).axes[0].texts
    shown = {text.get_text() for text in texts[:10]}  # the first row
    assert shown == {"", "10", "90"}


def test_save_writes_what_the_figure_draws_beside_the_png_and_its_smallest_font_in_it(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [0.9, 0.6], "accuracy": [0.6, 0.8], "val_accuracy": [0.65, 0.7]}
    path = plots.save(plots.training_curves(history), tmp_path / "curves.png")
    data = json.loads(path.with_suffix(".json").read_text())
    assert [axis["lines"] for axis in data["axes"]] == [[[0.6, 0.8], [0.65, 0.7]], [[1.0, 0.5], [0.9, 0.6]]]
    assert "epoch" in data["axes"][0]["labels"] and data["smallest_font"] == plots.SMALLEST_FONT
    with Image.open(path) as image:
        assert image.info["Smallest font (pt)"] == str(float(plots.SMALLEST_FONT)) and image.info["Images"] == "0"


def test_every_figure_draws_its_texts_at_the_smallest_font_or_larger():
    probabilities = np.full((6, 10), 0.01)
    probabilities[:, 3] = 0.91
    images, labels = np.zeros((6, 28, 28)), np.arange(6)
    figures = [
        plots.prediction_grid(images, labels, probabilities),
        plots.explanation_grid(images, np.ones((6, 28, 28)), labels, probabilities),
        plots.probability_bars(images[0], probabilities[0], 3),
        plots.confusion_matrix(np.arange(10), np.arange(10)),
    ]
    assert [figure_data.drawn(figure)["smallest_font"] for figure in figures] == [plots.SMALLEST_FONT] * 4
