"""From decoded photos to answers: the class, calibrated probabilities, runner-up, margin and `needs_review`.

The inference core's one place for the default paths and the answer's shape, with the review rule that
`fmnist.core.review` defines. The API (`fmnist.serve`), the batch tagger (`fmnist.tag`) and the benchmarks use
it. It runs the exported TFLite model on LiteRT alone: nothing in `fmnist.core` imports TensorFlow, so the
serving install (`pip install fmnist[serve]`, README) holds none.
"""

from pathlib import Path

import numpy as np

from fmnist import CLASS_NAMES
from fmnist.core import model_folder
from fmnist.core.review import PASSED, ReviewRule, margin
from fmnist.core.runtime import TFLiteClassifier

# The model folder `make run` writes (`fmnist.core.model_folder`), where the API and the tagger look unless told
# otherwise, and its files.
DEFAULT_MODEL_DIR = Path("models")
DEFAULT_MODEL = DEFAULT_MODEL_DIR / "fashion_cnn.tflite"
DEFAULT_CATALOGUE = DEFAULT_MODEL_DIR / model_folder.CATALOGUE
# The notebook fits the review rule per target accuracy of the auto-accepted tags, on the validation split.
DEFAULT_REVIEW = DEFAULT_MODEL_DIR / model_folder.THRESHOLDS
DEFAULT_TARGET = "0.99"


def describe(probabilities: np.ndarray, rule: ReviewRule, labels=CLASS_NAMES, image_check: str = PASSED) -> dict:
    """The answer for one image: class, calibrated confidence, runner-up, every class's probability, the image
    checks' verdict, and whether a person should review the tag; `labels` are the model's class names."""
    index, runner_up = (int(i) for i in np.argsort(-probabilities, kind="stable")[:2])
    score = float(margin(probabilities[np.newaxis])[0])
    return {
        "class_index": index,
        "label": labels[index],
        "confidence": round(float(probabilities[index]), 6),
        "runner_up": labels[runner_up],
        "margin": round(score, 6),
        "image_check": image_check,
        "needs_review": bool(rule.needs_review(score, image_check)),
        "probabilities": {name: round(float(p), 6) for name, p in zip(labels, probabilities, strict=True)},
    }


class Predictor:
    """The exported model, what it says about itself (`spec`) and a review rule: a batch of prepared photos in,
    embeddings and answers out."""

    def __init__(self, model_path, rule: ReviewRule, num_threads: int = 1):
        self.spec = model_folder.read_spec(model_path)
        self.classifier = TFLiteClassifier(model_path, num_threads=num_threads)
        self.rule = rule

    def __call__(self, pictures: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """`pictures`: float32 (n, *spec.shape) in [0, 1], as `spec.prepare` returns them."""
        embeddings, probabilities = self.classifier(pictures)
        checks = self.rule.image_checks(pictures)
        labels = self.spec.labels
        return embeddings, [describe(p, self.rule, labels, c) for p, c in zip(probabilities, checks, strict=True)]
