"""Figures for the notebook, the README and the slides; each returns its `matplotlib` figure."""

from pathlib import Path

import matplotlib.colors
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from fmnist import CLASS_NAMES

RIGHT, WRONG = "tab:blue", "tab:red"
METHOD_NAMES = {"occlusion": "occlusion", "integrated_gradients": "integrated gradients", "gradcam": "Grad-CAM"}


def save(figure, path) -> Path:
    """Save `figure` as a PNG at 150 dpi (sharp on a 16:9 slide) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, bbox_inches="tight", facecolor="white")
    return path


def _image_grid(count, columns, cell=1.6):
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * cell, rows * (cell + 0.7)), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    return figure, axes.flat


def sample_grid(images, labels, per_class=5):
    """Show the first `per_class` training images of every class, one column per class."""
    figure, axes = plt.subplots(per_class, len(CLASS_NAMES), figsize=(len(CLASS_NAMES) * 1.2, per_class * 1.2 + 0.8))
    for label, name in enumerate(CLASS_NAMES):
        for row, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            axes[row, label].imshow(images[index], cmap="gray_r")
            axes[row, label].axis("off")
        axes[0, label].set_title(name, fontsize=11)
    figure.suptitle("Fashion-MNIST: the first training images of each class", fontsize=13)
    figure.tight_layout()
    return figure


def augmentation_pairs(originals, shifted):
    """Each image as it is, after the augmentation, and the difference: red where the garment moved in,
    blue where it moved out."""
    figure, axes = plt.subplots(3, len(originals), figsize=(len(originals) * 1.6, 5.4), squeeze=False)
    for row, (name, images) in enumerate((("original", originals), ("augmented", shifted))):
        for axis, image in zip(axes[row], images, strict=True):
            axis.imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(name, fontsize=11)
    for axis, before, after in zip(axes[2], originals, shifted, strict=True):
        axis.imshow(np.squeeze(after) - np.squeeze(before), cmap="bwr_r", vmin=-1, vmax=1)
    axes[2, 0].set_ylabel("difference", fontsize=11)
    for axis in axes.flat:
        axis.set(xticks=[], yticks=[])
    figure.suptitle("The augmentation: each training image moved by up to a pixel", fontsize=13)
    figure.tight_layout()
    return figure


def training_curves(history: dict):
    """Plot training and validation accuracy and loss per epoch from `History.history`."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric, title in ((accuracy_axis, "accuracy", "Accuracy"), (loss_axis, "loss", "Loss")):
        axis.plot(epochs, history[metric], "o-", label="training")
        axis.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        axis.set(title=title, xlabel="epoch")
        if len(epochs) > 2:  # scaled to the epochs after the first, whose validation is far off (see the notebook)
            later = np.concatenate([history[metric][1:], history[f"val_{metric}"][1:]])
            pad = 0.1 * (later.max() - later.min()) or 0.01
            axis.set_ylim(later.min() - pad, later.max() + pad)
            axis.set_title(f"{title} (the scale fits epochs 2 on)")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


def _prediction_title(axis, probabilities, truth, fontsize):
    """Title an image with predicted label, confidence and true label; blue when right, red when wrong."""
    predicted = int(np.argmax(probabilities))
    axis.set_title(
        f"{CLASS_NAMES[predicted]} {probabilities[predicted]:.0%}\n(true: {CLASS_NAMES[truth]})",
        color=RIGHT if predicted == truth else WRONG,
        fontsize=fontsize,
    )


def prediction_grid(images, true_labels, probabilities, columns=6, title="Test predictions"):
    """Show images with predicted label, confidence and true label; blue when right, red when wrong."""
    figure, axes = _image_grid(len(images), columns)
    for axis, image, truth, probs in zip(axes, images, true_labels, probabilities, strict=False):
        axis.imshow(np.squeeze(image), cmap="gray_r")
        _prediction_title(axis, probs, truth, fontsize=9)
    figure.suptitle(title, fontsize=13)
    figure.tight_layout()
    return figure


def confusion_matrix(true_labels, predicted_labels):
    """Row-normalised confusion matrix: each row shows where the images of one true class went. Shares under
    0.5 % are left blank, and the colour scale stretches the small shares, so the confusions stand out."""
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axis = plt.subplots(figsize=(8.5, 7.5))
    display = ConfusionMatrixDisplay.from_predictions(
        true_labels,
        predicted_labels,
        labels=range(len(CLASS_NAMES)),
        display_labels=CLASS_NAMES,
        normalize="true",
        values_format=".2f",
        cmap="Blues",
        colorbar=False,
        im_kw={"norm": matplotlib.colors.PowerNorm(0.4, vmin=0, vmax=1)},
        ax=axis,
    )
    for text, share in zip(display.text_.flat, display.confusion_matrix.flat, strict=True):
        text.set_text(f"{share:.2f}" if share >= 0.005 else "")
        text.set_color("white" if share >= 0.4 else "black")
    axis.set_title("Confusion matrix (rows: true class, normalised)", fontsize=13)
    plt.setp(axis.get_xticklabels(), rotation=40, ha="right")
    figure.tight_layout()
    return figure


def per_class_scores(report: dict):
    """Grouped bars of precision, recall and F1 per class, from `evaluate.per_class_report`."""
    figure, axis = plt.subplots(figsize=(11, 5.2))
    positions = np.arange(len(CLASS_NAMES))
    for offset, metric in zip((-0.27, 0, 0.27), ("precision", "recall", "f1-score"), strict=True):
        axis.bar(positions + offset, [report[name][metric] for name in CLASS_NAMES], width=0.27, label=metric)
    axis.set_xticks(positions, CLASS_NAMES, rotation=30, ha="right", fontsize=11)
    axis.set_ylim(0, 1.0)
    axis.set_ylabel("score")
    axis.set_title("Per-class precision, recall and F1 on the test set", fontsize=13)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    return figure


def explanation_grid(images, heatmaps, true_labels, probabilities, columns=6, title="Explanations"):
    """Each image above its map, `columns` per row pair; titles coloured right/wrong, a colour bar for the map."""
    row_pairs = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(2 * row_pairs, columns, figsize=(columns * 1.9, row_pairs * 4.3), squeeze=False)
    for axis in axes.flat:
        axis.set(xticks=[], yticks=[], frame_on=False)
    for number, (image, heatmap, truth, probs) in enumerate(
        zip(images, heatmaps, true_labels, probabilities, strict=True)
    ):
        top, column = 2 * (number // columns), number % columns
        axes[top, column].imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1)
        _prediction_title(axes[top, column], probs, truth, fontsize=10)
        axes[top + 1, column].imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1)
        shown = axes[top + 1, column].imshow(heatmap, cmap="Reds", alpha=0.6, vmin=0, vmax=1)
    for top in range(0, 2 * row_pairs, 2):
        axes[top, 0].set_ylabel("image", fontsize=11)
        axes[top + 1, 0].set_ylabel("what it rests on", fontsize=11)
    figure.suptitle(title, fontsize=13)
    figure.tight_layout()
    figure.colorbar(shown, ax=axes, shrink=0.6, label="importance (1: the most important patch)")
    return figure


def deletion_curves(fractions, curves: dict, baseline):
    """Class probability as the pixels each method ranks highest are blanked, beside random garment pixels."""
    figure, axis = plt.subplots(figsize=(7.5, 4.6))
    for name, curve in curves.items():
        axis.plot(100 * np.asarray(fractions), curve, marker=".", label=METHOD_NAMES.get(name, name))
    axis.plot(100 * np.asarray(fractions), baseline, "k--", label="random garment pixels")
    axis.axvline(10, color="gray", lw=0.8)
    axis.set_xlabel("pixels blanked, highest-ranked first (%)")
    axis.set_ylabel("probability of the predicted class")
    axis.set_title("Deletion test: a faithful map's pixels matter most", fontsize=13)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure


def similar_items_grid(query_images, query_labels, catalogue_images, catalogue_labels, neighbours, similarities):
    """One row per query: the query, then its nearest catalogue items with their cosine similarity."""
    rows, k = neighbours.shape
    figure, axes = plt.subplots(rows, k + 1, figsize=((k + 1) * 1.55, rows * 1.75), squeeze=False)
    for row in range(rows):
        axes[row, 0].imshow(np.squeeze(query_images[row]), cmap="gray_r")
        axes[row, 0].set_title(f"query\n{CLASS_NAMES[query_labels[row]]}", fontsize=9, fontweight="bold")
        for column, (item, similarity) in enumerate(zip(neighbours[row], similarities[row], strict=True), start=1):
            same = catalogue_labels[item] == query_labels[row]
            axes[row, column].imshow(np.squeeze(catalogue_images[item]), cmap="gray_r")
            axes[row, column].set_title(
                f"{CLASS_NAMES[catalogue_labels[item]]}\ncos {similarity:.2f}",
                fontsize=8,
                color=RIGHT if same else WRONG,
            )
        for axis in axes[row]:
            axis.axis("off")
    figure.suptitle("Similar items: nearest neighbours in the model's embedding", fontsize=13)
    figure.tight_layout()
    return figure


def reliability_diagram(tables: dict):
    """Accuracy against mean confidence per bin, one line per model (`calibrate.reliability` tables), and below
    it how many images each bin holds: the ECE weighs each bin's gap by that count."""
    figure, (axis, counts) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    axis.plot([0, 1], [0, 1], ":", color="gray", label="perfect calibration")
    for name, table in tables.items():
        line = axis.plot(table["confidence"], table["accuracy"], "o-", label=name)[0]
        counts.plot(table["confidence"], table["count"], "o-", color=line.get_color())
    axis.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy in the bin")
    axis.set_title("Reliability on the test set", fontsize=13)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    counts.set(yscale="log", xlabel="confidence (mean per bin)", ylabel="images")
    counts.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def probability_bars(image, probabilities, truth: int):
    """One image and the model's ten probabilities for it: the predicted class in blue when right, red when
    wrong, the true class named in bold."""
    figure, (picture, bars) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 2.2]})
    picture.imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1)
    picture.set(xticks=[], yticks=[])
    predicted = int(np.argmax(probabilities))
    colours = ["lightgray"] * len(CLASS_NAMES)
    colours[predicted] = RIGHT if predicted == truth else WRONG
    bars.barh(CLASS_NAMES, probabilities, color=colours)
    bars.invert_yaxis()
    bars.set(xlim=(0, 1), xlabel="probability")
    bars.get_yticklabels()[truth].set_fontweight("bold")
    _prediction_title(picture, probabilities, truth, fontsize=11)
    figure.tight_layout()
    return figure


def risk_coverage(curve: dict, chosen: dict):
    """Accuracy of the auto-accepted tags against the share accepted, with the chosen operating points."""
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    axis.plot(curve["coverage"], curve["accuracy"], label="accepting the clearest first")
    for target, point in chosen.items():
        axis.plot(
            point["coverage"], point["accuracy"], "o", label=f"target {float(target):.1%}: {point['coverage']:.0%}"
        )
    axis.set(xlim=(0, 1), ylim=(0.9, 1.0), xlabel="share of products tagged without review (coverage)")
    axis.set_ylabel("accuracy of those tags")
    axis.set_title("Auto-tag or review (test set, thresholds from validation)", fontsize=12)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left")
    figure.tight_layout()
    return figure
