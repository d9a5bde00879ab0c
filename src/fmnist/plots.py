"""Figures for the notebook, the README and the slides; each returns its `matplotlib` figure.

Every text is drawn at 14 pt or more (`STYLE`) and every grid holds at most 6 images, so that the slides can
show the figures at a size that reads in a room. `save` writes, beside each PNG, the data that the figure
draws (`figure_data.drawn`), which the regression test compares between runs.
"""

import functools
from pathlib import Path

import matplotlib.cm
import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from fmnist import CLASS_NAMES, figure_data

RIGHT, WRONG = "tab:blue", "tab:red"
SCORES = {"precision": ("precision", ""), "recall": ("recall", "//"), "f1-score": ("F1", "..")}  # label, hatch
METHOD_NAMES = {"occlusion": "occlusion", "integrated_gradients": "integrated gradients", "gradcam": "Grad-CAM"}
HEAT = "Reds"  # the explanation maps' colours
SMALLEST_FONT = 14  # points
STYLE = {key: SMALLEST_FONT for key in ("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize")}
STYLE |= {"legend.fontsize": SMALLEST_FONT, "axes.titlesize": 16, "figure.titlesize": 17}
DPI = 150


def styled(draw):
    """Draw the figure in `STYLE`: relative font sizes resolve against it when each text is made."""

    @functools.wraps(draw)
    def styled_draw(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)

    return styled_draw


def save(figure, path) -> Path:
    """Save `figure` as a PNG at `DPI`, sharp on a 16:9 slide, and what it draws beside it (`figure_data.save`)."""
    return figure_data.save(figure, path, DPI)


def _image_grid(count, columns, cell=2.0):
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * cell, rows * (cell + 0.8)), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    return figure, axes.flat


@styled
def sample_grid(images, labels, per_class=5, classes=None):
    """Show the first `per_class` training images of each class in `classes` (all ten by default), one column
    per class."""
    classes = list(range(len(CLASS_NAMES)) if classes is None else classes)
    figure, axes = plt.subplots(per_class, len(classes), figsize=(len(classes) * 1.5, per_class * 1.4 + 1.0))
    axes = np.reshape(axes, (per_class, len(classes)))
    for column, label in enumerate(classes):
        for row, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            axes[row, column].imshow(images[index], cmap="gray_r")
            axes[row, column].axis("off")
        axes[0, column].set_title(CLASS_NAMES[label].replace("/", "/\n"))
    figure.suptitle("Fashion-MNIST: the first training images" + (" of each class" if len(classes) == 10 else ""))
    figure.tight_layout()
    return figure


@styled
def augmentation_pairs(originals, augmented):
    """Each image as it is, after the augmentation, and the difference after − before: blue where the garment
    moved in (it covers what was background), red where it moved out (it left background behind)."""
    figure, axes = plt.subplots(3, len(originals), figsize=(len(originals) * 1.8 + 1.6, 6.2), squeeze=False)
    figure.set_layout_engine("constrained")  # leaves room for the colour bar
    for row, (name, images) in enumerate((("original", originals), ("augmented", augmented))):
        for axis, image in zip(axes[row], images, strict=True):
            axis.imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(name)
    for axis, before, after in zip(axes[2], originals, augmented, strict=True):
        difference = axis.imshow(np.squeeze(after) - np.squeeze(before), cmap="bwr_r", vmin=-1, vmax=1)
    axes[2, 0].set_ylabel("difference")
    for axis in axes.flat:
        axis.set(xticks=[], yticks=[])
    figure.suptitle("The augmentation: each training image changed at random")
    bar = figure.colorbar(difference, ax=axes.ravel().tolist(), shrink=0.3, anchor=(0, 0), ticks=[-1, 0, 1])
    bar.ax.set_yticklabels(["moved out", "no change", "moved in"])
    return figure


@styled
def training_curves(history: dict):
    """Training and validation accuracy and loss per epoch from `History.history`, every epoch on the chart."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4.8))
    for axis, metric, better in ((accuracy_axis, "accuracy", "higher"), (loss_axis, "loss", "lower")):
        axis.plot(epochs, history[metric], "o-", label="training")
        axis.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        axis.set(title=f"{metric.capitalize()}: {better} is better", xlabel="epoch", ylabel=metric)
        axis.set_xticks(np.unique([1, *epochs[4::5], epochs[-1]]))  # the first, every fifth and the last
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


def _prediction_title(axis, probabilities, truth, classes=CLASS_NAMES):
    """Title an image with predicted label, confidence and true label; blue when right, red when wrong."""
    predicted = int(np.argmax(probabilities))
    axis.set_title(
        f"{classes[predicted]} {probabilities[predicted]:.0%}\n(true: {classes[truth]})",
        color=RIGHT if predicted == truth else WRONG,
        fontsize=SMALLEST_FONT,
    )


@styled
def prediction_grid(images, true_labels, probabilities, columns=3, title="Test predictions", classes=CLASS_NAMES):
    """Show images with predicted label, confidence and true label; blue when right, red when wrong. Colour
    images are drawn as they are, gray ones dark on light."""
    figure, axes = _image_grid(len(images), columns)
    for axis, image, truth, probs in zip(axes, images, true_labels, probabilities, strict=False):
        axis.imshow(np.squeeze(image), cmap="gray_r")
        _prediction_title(axis, probs, truth, classes)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


@styled
def confusion_matrix(true_labels, predicted_labels, classes=CLASS_NAMES):
    """Row-normalised confusion matrix in per cent: each row shows where the images of one true class went.
    Shares under 0.5 % are left blank, and the colour scale, drawn beside it, stretches the small shares, so the
    confusions stand out."""
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axis = plt.subplots(figsize=(6.8, 6.0))
    display = ConfusionMatrixDisplay.from_predictions(
        true_labels,
        predicted_labels,
        labels=range(len(classes)),
        display_labels=classes,
        normalize="true",
        cmap="Blues",
        colorbar=False,
        im_kw={"norm": matplotlib.colors.PowerNorm(0.4, vmin=0, vmax=1)},
        ax=axis,
    )
    for text, share in zip(display.text_.flat, display.confusion_matrix.flat, strict=True):
        text.set_text(f"{int(share * 100 + 0.5)}" if share >= 0.005 else "")  # 0.5 % rounds up, to 1
        text.set_color("white" if share >= 0.4 else "black")
    axis.set_title("Confusion matrix (% of each true class)")
    plt.setp(axis.get_xticklabels(), rotation=40, ha="right")
    figure.tight_layout()
    bar = figure.colorbar(display.im_, ax=axis, shrink=0.8, ticks=[0, 0.01, 0.05, 0.2, 0.5, 1])
    bar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1, decimals=0))
    bar.set_label("share of the true class")
    return figure


@styled
def per_class_scores(report: dict):
    """Grouped bars of precision, recall and F1 per class, from `evaluate.per_class_report`."""
    figure, axis = plt.subplots(figsize=(10, 4.5))
    positions = np.arange(len(CLASS_NAMES))
    for offset, (metric, (label, hatch)) in zip((-0.28, 0, 0.28), SCORES.items(), strict=True):
        heights = [report[name][metric] for name in CLASS_NAMES]
        axis.bar(positions + offset, heights, width=0.28, label=label, hatch=hatch, edgecolor="white")
    axis.set_xticks(positions, CLASS_NAMES, rotation=40, ha="right")
    axis.set_ylim(0, 1.0)
    axis.set_ylabel("score")
    axis.set_title("Precision, recall and F1 per class (test set; 1 is perfect)")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncols=3, frameon=False)
    figure.tight_layout()
    return figure


@styled
def explanation_grid(images, heatmaps, true_labels, probabilities, columns=3, title="Explanations"):
    """Each image with its map laid over it in red, titled right or wrong, and a colour bar for the map. The red
    is as opaque as the pixel is important, so the garment shows through wherever the map is low."""
    figure, axes = _image_grid(len(images), columns, cell=2.2)
    for axis, image, heatmap, truth, probs in zip(axes, images, heatmaps, true_labels, probabilities, strict=False):
        axis.imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=2)  # at most mid-grey: the red stands out
        importance = np.clip(np.asarray(heatmap, dtype="float64"), 0, 1)
        axis.imshow(importance, cmap=HEAT, vmin=0, vmax=1, alpha=importance)
        _prediction_title(axis, probs, truth)
    figure.suptitle(title)
    figure.tight_layout()
    scale = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), HEAT)  # opaque, unlike the maps
    figure.colorbar(scale, ax=list(figure.axes), shrink=0.7, label="importance (1: the most)")
    return figure


@styled
def deletion_curves(fractions, curves: dict, baseline):
    """Class probability as the pixels each method ranks highest are blanked, beside random garment pixels; the
    lower a method's curve, the more its first pixels matter. A grey line marks the 10 % where drops are quoted."""
    figure, axis = plt.subplots(figsize=(6.0, 4.0))
    for name, curve in curves.items():
        axis.plot(100 * np.asarray(fractions), curve, marker=".", label=METHOD_NAMES.get(name, name))
    axis.plot(100 * np.asarray(fractions), baseline, "k--", label="random garment pixels")
    axis.axvline(10, color="gray", lw=0.8, label="10 %: the drop quoted")
    axis.set_xlabel("pixels blanked, most important first (%)")
    axis.set_ylabel("probability of the answer")
    axis.set_title("Deletion test: the lower, the more faithful")
    axis.grid(alpha=0.3)
    axis.legend(labelspacing=0.3, borderpad=0.3)  # packed: its five rows stay above the curves
    figure.tight_layout()
    return figure


@styled
def similar_items_grid(query_images, query_labels, catalogue_images, catalogue_labels, neighbours, similarities):
    """One row per query: the query, then its nearest catalogue items with their cosine similarity."""
    rows, k = neighbours.shape
    figure, axes = plt.subplots(rows, k + 1, figsize=((k + 1) * 1.5, rows * 2.0 + 0.6), squeeze=False)
    for row in range(rows):
        axes[row, 0].imshow(np.squeeze(query_images[row]), cmap="gray_r")
        axes[row, 0].set_title(f"query\n{CLASS_NAMES[query_labels[row]]}", fontweight="bold")
        for column, (item, similarity) in enumerate(zip(neighbours[row], similarities[row], strict=True), start=1):
            same = catalogue_labels[item] == query_labels[row]
            axes[row, column].imshow(np.squeeze(catalogue_images[item]), cmap="gray_r")
            axes[row, column].set_title(
                f"{CLASS_NAMES[catalogue_labels[item]]}\ncos {similarity:.2f}", color=RIGHT if same else WRONG
            )
        for axis in axes[row]:
            axis.axis("off")
    figure.suptitle("Similar items: the nearest in the model's embedding")
    figure.tight_layout()
    same, other = (matplotlib.patches.Patch(color=colour) for colour in (RIGHT, WRONG))
    labels = ["the query's class", "another class"]
    figure.legend([same, other], labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=2, frameon=False)
    return figure


@styled
def reliability_diagram(tables: dict):
    """Accuracy against mean confidence per bin, one line per model (`calibrate.reliability` tables), each bin's
    dot as large as its share of the images; below, how many images each bin holds: the ECE weighs each bin's gap
    by that count. Above the diagonal, the model is right more often than it says: under-confident."""
    figure, (axis, counts) = plt.subplots(2, 1, figsize=(5.6, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    axis.plot([0, 1], [0, 1], ":", color="gray", label="perfect calibration")
    for name, table in tables.items():
        line = axis.plot(table["confidence"], table["accuracy"], "-", alpha=0.5, label=name)[0]
        share = np.asarray(table["count"]) / np.sum(table["count"])
        axis.scatter(table["confidence"], table["accuracy"], s=300 * np.sqrt(share), color=line.get_color())
        counts.plot(table["confidence"], table["count"], "o-", color=line.get_color())
    axis.set(xlim=(0, 1), ylim=(0, 1.04), ylabel="accuracy in the bin")
    axis.set_title("Reliability on the test set\nabove the diagonal: under-confident")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    counts.set(yscale="log", xlabel="confidence (mean per bin)", ylabel="images")
    counts.grid(alpha=0.3)
    figure.tight_layout()
    return figure


@styled
def probability_bars(image, probabilities, truth: int):
    """One image and the model's ten probabilities for it: the predicted class in blue when right, red when
    wrong, the true class named in bold."""
    figure, (picture, bars) = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw={"width_ratios": [1, 2.2]})
    picture.imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1)
    picture.set(xticks=[], yticks=[])
    predicted = int(np.argmax(probabilities))
    colours = ["lightgray"] * len(CLASS_NAMES)
    colours[predicted] = RIGHT if predicted == truth else WRONG
    bars.barh(CLASS_NAMES, probabilities, color=colours)
    bars.invert_yaxis()
    bars.set(xlim=(0, 1), xlabel="probability")
    bars.get_yticklabels()[truth].set_fontweight("bold")
    _prediction_title(picture, probabilities, truth)
    figure.tight_layout()
    return figure


@styled
def risk_coverage(curve: dict, chosen: dict):
    """Accuracy of the auto-accepted tags against the share accepted (the coverage), with each target accuracy
    as a dashed line and the point its threshold reached: a point under its line misses its target."""
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    handles, labels = axis.plot(curve["coverage"], curve["accuracy"]), ["the clearest first"]
    for target, point in chosen.items():
        labels.append(f"target {float(target):.1%}: coverage {point['coverage']:.0%}")
        dot = axis.plot(point["coverage"], point["accuracy"], "o", label=labels[-1])[0]
        handles.append((axis.hlines(float(target), 0, 1, colors=dot.get_color(), linestyles="--", lw=1.2), dot))
    axis.set(xlim=(0, 1), ylim=(0.9, 1.0), xlabel="coverage: share tagged without review")
    axis.set_ylabel("accuracy of those tags")
    axis.set_title("Auto-tag or review (test set)\na dot under its dashed target misses it")
    axis.grid(alpha=0.3)
    axis.legend(handles, labels, loc="lower left")
    figure.tight_layout()
    return figure
