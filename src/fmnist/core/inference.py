"""From decoded photos to answers: the class, calibrated probabilities, runner-up, margin and `needs_review`.

The inference core's one place for the review rule, the default paths and the answer's shape. The API
(`fmnist.serve`), the batch tagger (`fmnist.tag`) and the benchmarks use it. It runs the exported TFLite
model on LiteRT alone: nothing in `fmnist.core` imports TensorFlow, so the serving install
(`pip install fmnist[serve]`, README) holds none.
"""

import json
from pathlib import Path

import numpy as np

from fmnist import CLASS_NAMES
from fmnist.core import model_folder
from fmnist.core.runtime import TFLiteClassifier

# The model folder `make run` writes (`fmnist.core.model_folder`), where the API and the tagger look unless told
# otherwise, and its files.
DEFAULT_MODEL_DIR = Path("models")
DEFAULT_MODEL = DEFAULT_MODEL_DIR / "fashion_cnn.tflite"
DEFAULT_CATALOGUE = DEFAULT_MODEL_DIR / model_folder.CATALOGUE
# The notebook chooses a margin threshold per target accuracy of the auto-accepted tags, on the validation split.
DEFAULT_REVIEW = DEFAULT_MODEL_DIR / model_folder.THRESHOLDS
DEFAULT_TARGET = "0.99"


def margin(probabilities) -> np.ndarray:
    """The top probability minus the runner-up's, per row: how clearly the model prefers its answer."""
    top_two = np.sort(np.asarray(probabilities), axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def needs_review(margin, threshold):
    """The review rule: a tag whose margin over the runner-up is below the threshold goes to a person.

    Works on one margin or an array of them; the notebook's auto-tagging figures accept what this does not flag.
    """
    return margin < threshold


def load_threshold(path, target: str) -> float:
    """The margin threshold for target accuracy `target` ("0.99") from the notebook's review thresholds file."""
    try:
        thresholds = json.loads(Path(path).read_text())["thresholds"]
    except (OSError, ValueError, KeyError) as error:
        raise RuntimeError(f"cannot read the review thresholds {path}: {error}; `make run` writes them") from None
    if target not in thresholds:
        raise RuntimeError(f"target accuracy {target} has no threshold in {path}; choose one of {sorted(thresholds)}")
    return float(thresholds[target])


def describe(probabilities: np.ndarray, threshold: float, labels=CLASS_NAMES) -> dict:
    """The answer for one image: class, calibrated confidence, runner-up, every class's probability, and whether
    a person should review the tag; `labels` are the model's class names."""
    index, runner_up = (int(i) for i in np.argsort(-probabilities, kind="stable")[:2])
    score = float(margin(probabilities[np.newaxis])[0])
    return {
        "class_index": index,
        "label": labels[index],
        "confidence": round(float(probabilities[index]), 6),
        "runner_up": labels[runner_up],
        "margin": round(score, 6),
        "needs_review": bool(needs_review(score, threshold)),
        "probabilities": {name: round(float(p), 6) for name, p in zip(labels, probabilities, strict=True)},
    }


class Predictor:
    """The exported model, what it says about itself (`spec`) and a review threshold: a batch of prepared
    photos in, embeddings and answers out."""

    def __init__(self, model_path, threshold: float, num_threads: int = 1):
        self.spec = model_folder.read_spec(model_path)
        self.classifier = TFLiteClassifier(model_path, num_threads=num_threads)
        self.threshold = threshold

    def __call__(self, pictures: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """`pictures`: float32 (n, *spec.shape) in [0, 1], as `spec.prepare` returns them."""
        embeddings, probabilities = self.classifier(pictures)
        return embeddings, [describe(row, self.threshold, self.spec.labels) for row in probabilities]
