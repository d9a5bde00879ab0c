"""Figures for the notebook, the README and the slides; each returns its `matplotlib` figure."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from fmnist import CLASS_NAMES

RIGHT, WRONG = "tab:blue", "tab:red"


def save(figure, path) -> Path:
    """Save `figure` as a PNG at 150 dpi (sharp on a 16:9 slide) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, bbox_inches="tight", facecolor="white")
    return path


def _image_grid(count, columns, cell=1.6):
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * cell, rows * (cell + 0.35)), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    return figure, axes.flat


def sample_grid(images, labels, per_class=6):
    """Show the first `per_class` training images of every class, one row per class."""
    figure, axes = _image_grid(len(CLASS_NAMES) * per_class, per_class, cell=1.0)
    axes = list(axes)
    for label, name in enumerate(CLASS_NAMES):
        for column, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            axis = axes[label * per_class + column]
            axis.imshow(images[index], cmap="gray_r")
            if column == 0:
                axis.text(-4, 14, name, ha="right", va="center", fontsize=11)
    figure.suptitle("Fashion-MNIST: the first training images of each class", fontsize=13)
    figure.subplots_adjust(left=0.22, wspace=0.05, hspace=0.05)
    return figure


def training_curves(history: dict):
    """Plot training and validation accuracy and loss per epoch from `History.history`."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric, title in ((accuracy_axis, "accuracy", "Accuracy"), (loss_axis, "loss", "Loss")):
        axis.plot(epochs, history[metric], "o-", label="training")
        axis.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        axis.set(title=title, xlabel="epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return figure


def prediction_grid(images, true_labels, probabilities, columns=6, title="Test predictions"):
    """Show images with predicted label, confidence and true label; blue when right, red when wrong."""
    figure, axes = _image_grid(len(images), columns)
    for axis, image, truth, probs in zip(axes, images, true_labels, probabilities, strict=False):
        predicted = int(np.argmax(probs))
        axis.imshow(np.squeeze(image), cmap="gray_r")
        axis.set_title(
            f"{CLASS_NAMES[predicted]} {probs[predicted]:.0%}\n(true: {CLASS_NAMES[truth]})",
            color=RIGHT if predicted == truth else WRONG,
            fontsize=9,
        )
    figure.suptitle(title, fontsize=13)
    figure.tight_layout()
    return figure
