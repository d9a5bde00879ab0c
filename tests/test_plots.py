"""What each figure draws: its data, colours and axes, read back from the matplotlib objects (not pixels)."""

import json

import matplotlib
import matplotlib.collections
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
        assert axis.get_xlabel() == "epoch" and axis.get_ylabel() == metric
    assert accuracy_axis.get_title().startswith("Accuracy") and loss_axis.get_title().startswith("Loss")


def test_per_class_bars_show_precision_recall_and_f1_of_each_class():
    report = {name: {"precision": 0.9, "recall": 0.8, "f1-score": 0.85} for name in CLASS_NAMES}
    report["Shirt"] = {"precision": 0.7, "recall": 0.65, "f1-score": 0.675}
    figure = plots.per_class_scores(report)
    bars = figure.axes[0].containers
    assert [container.get_label() for container in bars] == ["precision", "recall", "F1"]
    shirt = CLASS_NAMES.index("Shirt")
    assert [container[shirt].get_height() for container in bars] == [0.7, 0.65, 0.675]
    looks = {(container[0].get_hatch(), matplotlib.colors.to_hex(container[0].get_facecolor())) for container in bars}
    assert len({hatch for hatch, _ in looks}) == len({colour for _, colour in looks}) == 3  # told apart in grey too


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
    assert "coverage 25%" in point.get_label()


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


def test_the_training_curves_show_every_epoch_the_first_too():
    history = {
        "accuracy": [0.6, 0.9, 0.92],
        "val_accuracy": [0.29, 0.91, 0.93],
        "loss": [2, 1, 0.9],
        "val_loss": [3, 1, 0.8],
    }
    for axis in plots.training_curves(history).axes:
        low, high = axis.get_ylim()
        assert all(low < value < high for line in axis.get_lines() for value in line.get_ydata())
        assert 1 in axis.get_xticks()


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


def is_blue(rgba) -> bool:
    red, _, blue, _ = rgba
    return blue > 0.8 and red < 0.2


def is_red(rgba) -> bool:
    red, _, blue, _ = rgba
    return red > 0.8 and blue < 0.2


def test_the_augmentation_difference_is_blue_where_the_garment_moved_in_and_red_where_it_moved_out(tmp_path):
    """The colours as drawn, from the difference row's image and its colour map, and the colour bar that reads
    them: a garment moved one pixel right covers the column on its right (blue) and uncovers its left (red)."""
    before = np.zeros((1, 28, 28, 1))
    before[0, 8:20, 10:16] = 0.8
    after = np.roll(before, 1, axis=2)
    figure = plots.augmentation_pairs(before, after)
    difference = figure.axes[2].get_images()[0]
    colours = difference.to_rgba(difference.get_array())
    assert is_blue(colours[12, 16]) and is_red(colours[12, 10])  # moved into column 16, out of column 10
    assert not is_blue(colours[12, 13]) and not is_red(colours[12, 13])  # inside the garment: no change
    bar = figure.axes[-1]
    ticks = {
        label.get_text(): difference.to_rgba(value)
        for label, value in zip(bar.get_yticklabels(), bar.get_yticks(), strict=True)
    }
    assert is_blue(ticks["moved in"]) and is_red(ticks["moved out"])
    saved = json.loads(plots.save(figure, tmp_path / "augmentation.png").with_suffix(".json").read_text())
    assert saved["axes"][2]["colormaps"] == [difference.get_cmap().name]  # what the regression test compares


def test_the_confusion_matrix_leaves_shares_under_half_a_percent_blank():
    truth, predicted = np.repeat(np.arange(10), 300), np.repeat(np.arange(10), 300)
    predicted[0] = 6  # one T-shirt of 300 taken for a shirt: 0.3 %
    predicted[1:31] = 2  # thirty for pullovers: 10 %
    texts = plots.confusion_matrix(truth, predicted).axes[0].texts
    shown = {text.get_text() for text in texts[:10]}  # the first row
    assert shown == {"", "10", "90"}


def test_no_confusion_cell_reads_zero_and_the_stretched_scale_has_a_colour_bar():
    truth, predicted = np.repeat(np.arange(10), 1000), np.repeat(np.arange(10), 1000)
    predicted[:5] = 2  # five dresses of a thousand: 0.5 %, shown as 1
    predicted[1000:1004] = 2  # four trousers of a thousand: 0.4 %, blank
    figure = plots.confusion_matrix(truth, predicted)
    matrix, texts = figure.axes[0].images[0], [text.get_text() for text in figure.axes[0].texts]
    assert texts[2] == "1" and texts[12] == "" and "0" not in texts
    assert matrix.colorbar is not None and matrix.colorbar.ax in figure.axes
    assert matrix.colorbar.norm is matrix.norm  # the bar reads the cells' own, stretched, scale


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


def reliability_figure():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1, 5000) ** 0.3
    probabilities = np.column_stack([confidence, 1 - confidence])
    right = rng.uniform(size=5000) < np.minimum(1, confidence + 0.05)
    table = calibrate.reliability(probabilities, np.where(right, 0, 1))
    table["count"] = np.asarray(table["count"])
    table["count"][0] = 1  # a bin of one photo, at the top left
    table["accuracy"] = np.asarray(table["accuracy"])
    table["accuracy"][0] = 1.0
    return plots.reliability_diagram({"model": table}), table


def test_the_reliability_legend_leaves_every_bin_visible_and_small_bins_draw_small():
    figure, table = reliability_figure()
    axis = figure.axes[0]
    figure.canvas.draw()
    legend = axis.get_legend().get_window_extent()
    (dots,) = axis.collections
    points = axis.transData.transform(dots.get_offsets())
    assert not any(legend.contains(x, y) for x, y in points)  # the top-left bin too
    sizes = dots.get_sizes()
    assert list(np.argsort(sizes, kind="stable")) == list(np.argsort(table["count"], kind="stable"))
    assert sizes[0] < sizes.max() / 20  # one photo's bin
    assert "under-confident" in axis.get_title()  # which side of the diagonal is which


def test_the_risk_coverage_draws_each_target_as_a_line_at_its_accuracy():
    curve = calibrate.risk_coverage(np.array([0.9, 0.5, 0.7, 0.1]), np.array([True, True, False, True]))
    chosen = {"0.99": {"coverage": 0.25, "accuracy": 1.0}, "0.995": {"coverage": 0.2, "accuracy": 0.98}}
    axis = plots.risk_coverage(curve, chosen).axes[0]
    targets = [segments[0][:, 1] for segments in (lines.get_segments() for lines in axis.collections)]
    np.testing.assert_allclose(targets, [[0.99, 0.99], [0.995, 0.995]])
    assert len(axis.get_legend().get_texts()) == 3  # the curve and each target with its point


def test_the_deletion_curves_name_every_line_they_draw():
    fractions = np.arange(21) / 20
    curves = {"occlusion": np.linspace(1, 0, 21), "gradcam": np.linspace(1, 0.5, 21)}
    axis = plots.deletion_curves(fractions, curves, np.linspace(1, 0.2, 21)).axes[0]
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert legend == [line.get_label() for line in axis.get_lines()] and len(legend) == 4
    assert list(axis.get_lines()[-1].get_xdata()) == [10, 10]  # the 10 % where the drops are quoted


def test_the_explanation_overlay_leaves_the_garment_visible_where_the_map_is_low():
    heatmaps = np.zeros((2, 28, 28))
    heatmaps[:, 5:8, 5:8] = 1
    probabilities = np.full((2, 10), 0.1)
    figure = plots.explanation_grid(np.ones((2, 28, 28)), heatmaps, np.arange(2), probabilities, columns=2)
    garment, overlay = figure.axes[0].get_images()
    alpha = np.broadcast_to(overlay.get_alpha(), heatmaps[0].shape)
    assert alpha[0, 0] == 0 and alpha[6, 6] == 1  # transparent where unimportant, opaque at the most important
    assert garment.norm.vmax > 1  # the garment at most mid-grey, under the red
    scale = [shown for shown in figure.axes[-1].collections if isinstance(shown, matplotlib.collections.QuadMesh)]
    assert [shown.get_alpha() for shown in scale] == [None]  # the colour bar: opaque, unlike the maps
    assert scale[0].get_cmap().name == overlay.get_cmap().name


def test_the_similar_items_legend_names_both_colours_of_the_titles():
    neighbours, similarities = np.array([[1, 2]]), np.array([[0.95, 0.5]])
    figure = plots.similar_items_grid(
        np.zeros((1, 28, 28)), np.array([4]), np.zeros((3, 28, 28)), np.array([4, 4, 6]), neighbours, similarities
    )
    (legend,) = figure.legends
    colours = [matplotlib.colors.to_hex(handle.get_facecolor()) for handle in legend.legend_handles]
    assert colours == [matplotlib.colors.to_hex(plots.RIGHT), matplotlib.colors.to_hex(plots.WRONG)]
