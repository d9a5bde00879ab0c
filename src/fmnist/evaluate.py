"""Test-set evaluation: per-class scores, confusions, mistakes, and `reports/metrics.json`."""

import json
import platform
from pathlib import Path

import numpy as np
from sklearn import metrics

from fmnist import CLASS_NAMES


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


def per_class_report(true_labels, predicted_labels) -> dict:
    """Precision, recall, F1 and support per class name, from scikit-learn."""
    return metrics.classification_report(
        true_labels,
        predicted_labels,
        labels=range(len(CLASS_NAMES)),
        target_names=CLASS_NAMES,
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)
    return path


def rounding_dependent_figures(metrics: dict) -> dict:
    """The numbers of a `metrics.json` that move with the seed and the processor, by name: what the regression
    test compares within tolerances and `benchmarks/training.py` measures the spread of."""
    explanations = metrics["explanations"]
    figures = {
        "test_accuracy": metrics["test_accuracy"],
        "test_loss": metrics["test_loss"],
        "precision_at_k": metrics["similar_items"]["precision_at_k"],
        "final_val_accuracy": metrics["history"]["val_accuracy"][-1],
        "random_garment_drop_10": explanations["random_garment_drop_10"],
    }
    figures.update({f"f1 {name}": scores["f1-score"] for name, scores in metrics["per_class"].items()})
    figures.update({f"deletion_drop_10 {name}": drop for name, drop in explanations["deletion_drop_10"].items()})
    return figures
