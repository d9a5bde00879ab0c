"""Test-set evaluation: per-class scores, confusions, mistakes, and `reports/metrics.json`."""

import json
import platform
from pathlib import Path

import numpy as np
from sklearn import metrics

from fmnist import CLASS_NAMES
from fmnist.core.files import write_atomically


def versions() -> dict:
    """Return the versions of Python and of the libraries that decide the numbers."""
    import keras
    import matplotlib
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "scikit-learn": sklearn.__version__,
    }


def per_class_report(true_labels, predicted_labels, classes=CLASS_NAMES) -> dict:
    """Precision, recall, F1 and support per class name, from scikit-learn."""
    return metrics.classification_report(
        true_labels,
        predicted_labels,
        labels=range(len(classes)),
        target_names=classes,
        output_dict=True,
        zero_division=0,
    )


def top_confusions(true_labels, predicted_labels, count=5) -> list[dict]:
    """Return the `count` class pairs confused most often, both directions added together."""
    matrix = metrics.confusion_matrix(true_labels, predicted_labels, labels=range(len(CLASS_NAMES)))
    symmetric = np.triu(matrix + matrix.T, k=1)
    pairs = sorted(np.ndindex(symmetric.shape), key=lambda pair: -symmetric[pair])[:count]
    return [
        {
            "classes": [CLASS_NAMES[a], CLASS_NAMES[b]],
            "images": int(symmetric[a, b]),
            "as_second": int(matrix[a, b]),
            "as_first": int(matrix[b, a]),
        }
        for a, b in pairs
        if symmetric[a, b] > 0
    ]


def most_confident_mistakes(true_labels, probabilities, count=12) -> np.ndarray:
    """Return indices of the wrong predictions made with the highest confidence, most confident first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true_labels)
    return wrong[np.argsort(-probabilities[wrong].max(axis=1), kind="stable")][:count]


def write_metrics(path, values: dict) -> Path:
    """Write `values` as the whole JSON file at `path`, atomically: a run that dies leaves the old file whole."""
    with write_atomically(path) as file:
        file.write((json.dumps(values, indent=2, sort_keys=True) + "\n").encode())
    return Path(path)
