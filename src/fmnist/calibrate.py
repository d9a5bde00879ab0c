"""Confidences a shop can act on: temperature scaling, calibration error, and when to auto-tag or ask a person.

Label smoothing leaves the network under-confident. One temperature T, fitted on the validation split,
divides the log-probabilities (softmax(z / T)); dividing the last layer's weights by T does the same inside
the model, so every exported format carries it. The score that decides auto-tag or review is the margin
between the two most probable classes; its thresholds are chosen on the validation split too, and so are the
limits of the two image checks that send a photo unlike the validation photos to a person whatever its margin
(`fmnist.core.review`).
"""

import numpy as np
from scipy import optimize

from fmnist.core import review
from fmnist.core.review import margin as margin  # the review score: re-exported for the notebook
from fmnist.core.review import needs_review

REVIEW_TARGETS = (0.99, 0.995)  # accuracy wanted of the tags accepted without a person
# Each image check's limit: this percentile of its measure on the validation photos as drawn (docs/robustness.md,
# "The review rule", rule (i)), so that it sends few of them to a person.
IMAGE_CHECK_PERCENTILES = {"cut_off": 99.5, "grain": 99}


def apply_temperature(probabilities, temperature: float) -> np.ndarray:
    """softmax(log(probabilities) / temperature), row by row."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype="float64"), 1e-12, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities, labels) -> float:
    """Mean −log p(true class)."""
    chosen = np.asarray(probabilities)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(chosen, 1e-12, None)).mean())


def fit_temperature(probabilities, labels) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood of `labels`."""
    if len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError(f"need as many labels as rows of probabilities, got {len(labels)} and {len(probabilities)}")
    result = optimize.minimize_scalar(
        lambda temperature: negative_log_likelihood(apply_temperature(probabilities, temperature), labels),
        bounds=(0.05, 20.0),
        method="bounded",
    )
    return float(result.x)


def with_temperature(model, temperature: float):
    """A copy of `model` whose softmax layer's weights and bias are divided by `temperature`: the same classes,
    calibrated probabilities. `model` is left as it is, so fitting and applying again gives the same copy."""
    import keras

    calibrated = keras.models.clone_model(model)
    calibrated.set_weights(model.get_weights())
    kernel, bias = model.layers[-1].get_weights()
    calibrated.layers[-1].set_weights([kernel / temperature, bias / temperature])
    return calibrated


def reliability(probabilities, labels, bins: int = 15) -> dict:
    """Per equal-width confidence bin: mean confidence, accuracy and count (empty bins dropped)."""
    confidence = np.asarray(probabilities).max(axis=1)
    correct = np.asarray(probabilities).argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    filled = counts > 0
    return {
        "confidence": (np.bincount(which, confidence, bins)[filled] / counts[filled]),
        "accuracy": (np.bincount(which, correct, bins)[filled] / counts[filled]),
        "count": counts[filled],
    }


def expected_calibration_error(probabilities, labels, bins: int = 15) -> float:
    """Σ over bins of (share of images) × |accuracy − mean confidence|."""
    table = reliability(probabilities, labels, bins)
    gaps = np.abs(table["accuracy"] - table["confidence"])
    return float((table["count"] * gaps).sum() / table["count"].sum())


def risk_coverage(scores, correct) -> dict:
    """Accepting the images of highest score first: coverage (share accepted) against their accuracy."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.cumsum(np.asarray(correct)[order])
    accepted = np.arange(1, len(order) + 1)
    return {"coverage": accepted / len(order), "accuracy": hits / accepted}


def review_threshold(scores, correct, target: float) -> float:
    """The lowest score threshold whose accepted images (score ≥ it) reach `target` accuracy.

    Fit it on the validation split. Where no threshold reaches the target, it is above every score: a person
    reviews everything.
    """
    scores = np.asarray(scores)
    if scores.size == 0 or len(scores) != len(correct):
        raise ValueError(f"need as many scores as right/wrong flags, at least one: got {len(scores)}, {len(correct)}")
    accuracy = risk_coverage(scores, correct)["accuracy"]
    descending = np.sort(scores)[::-1]
    # a threshold accepts every image at its score: only the last image of a run of equal scores can end a cut
    cuts = np.flatnonzero(np.append(descending[1:] < descending[:-1], True))
    reaching = cuts[accuracy[cuts] >= target]
    if len(reaching) == 0:
        return float(np.nextafter(descending[0], np.inf))
    return float(descending[reaching.max()])


def image_limits(images) -> dict:
    """Each image check's limit, `IMAGE_CHECK_PERCENTILES` of its measure on `images` (the validation split)."""
    return {
        name: float(np.percentile(review.IMAGE_CHECKS[name](images), percentile))
        for name, percentile in IMAGE_CHECK_PERCENTILES.items()
    }


def review_scores(probabilities, images, limits: dict) -> np.ndarray:
    """The margin of each image's `probabilities`, or −1 where the image fails a check: a score that every
    threshold sends to review, so that `auto_tagging` and `risk_coverage` follow the whole rule."""
    passed = np.array(review.image_checks(images, limits)) == review.PASSED
    return np.where(passed, margin(probabilities), -1.0)


def auto_tagging(scores, correct, thresholds: dict) -> dict:
    """For each target: the threshold, the share of images it accepts and their accuracy."""
    scores, correct = np.asarray(scores), np.asarray(correct)
    return {
        str(target): {
            "threshold": round(float(threshold), 6),
            **tagged_alone(~needs_review(scores, threshold), correct),
        }
        for target, threshold in thresholds.items()
    }


def tagged_alone(accepted, correct) -> dict:
    """The share of images tagged without review (`accepted`) and the accuracy among them (None if none is)."""
    accepted, correct = np.asarray(accepted), np.asarray(correct)
    return {
        "coverage": round(float(accepted.mean()), 4),
        "accuracy": round(float(correct[accepted].mean()), 4) if accepted.any() else None,
    }
