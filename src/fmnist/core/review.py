"""The review rule: which tags a person checks. The margin between the two most probable classes decides, and
two checks of the photo itself send on a photo unlike the validation photos whatever its margin. The notebook
fits the rule on the validation split and writes it to the model folder's review thresholds file; the API, the
taggers and the benchmarks read it from there.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def margin(probabilities) -> np.ndarray:
    """The top probability minus the runner-up's, per row: how clearly the model prefers its answer."""
    top_two = np.sort(np.asarray(probabilities), axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def needs_review(margin, threshold, image_check=None):
    """The review rule: a tag whose margin over the runner-up is below the threshold goes to a person, and so
    does one whose photo fails an image check (`image_check` other than `PASSED`, where it is given).

    Works on one margin or an array of them; the notebook's auto-tagging figures accept what this does not flag.
    """
    flagged = np.asarray(margin) < threshold
    if image_check is not None:
        flagged = flagged | (np.asarray(image_check) != PASSED)
    return flagged


# The image checks (docs/robustness.md, "The review rule", rule (i)): on photos unlike Fashion-MNIST's, a garment
# that the image's edge cuts or a grainy photo, the network can be sure and wrong, so such a photo goes to a
# person whatever its margin. Each measures the model's input, a float image in [0, 1].
PASSED = "ok"
OUTLINE_THRESHOLD, OUTLINE_FLOOR = 0.15, 0.05  # garment: brighter than 15 % of the peak or than 0.05 (`Frame`)
BACKGROUND_PERCENTILE = 5  # an image's background level: this percentile of its pixels


def cut_off(pictures, background_percentile=BACKGROUND_PERCENTILE) -> np.ndarray:
    """The share of each picture's edge pixels where the garment shows: above its background (that percentile
    of its levels; None: black) by more than the smaller of `OUTLINE_THRESHOLD` × its peak and `OUTLINE_FLOOR`."""
    levels = np.asarray(pictures, dtype="float32").mean(axis=-1)
    background = 0 if background_percentile is None else np.percentile(levels, background_percentile, axis=(1, 2))
    above = levels - np.reshape(background, (-1, 1, 1))
    peak = above.max(axis=(1, 2), keepdims=True)
    outline = (above > np.minimum(OUTLINE_THRESHOLD * peak, OUTLINE_FLOOR)) & (peak > 0)
    edge = [outline[:, 0, :], outline[:, -1, :], outline[:, 1:-1, 0], outline[:, 1:-1, -1]]
    return np.concatenate(edge, axis=1).mean(axis=1)


def grain(pictures) -> np.ndarray:
    """The mean absolute difference between each picture and its 3 × 3 median."""
    levels = np.asarray(pictures, dtype="float32").mean(axis=-1)
    height, width = levels.shape[1:]
    padded = np.pad(levels, ((0, 0), (1, 1), (1, 1)), mode="edge")
    neighbours = [padded[:, i : i + height, j : j + width] for i in range(3) for j in range(3)]
    return np.abs(levels - np.median(neighbours, axis=0)).mean(axis=(1, 2))


IMAGE_CHECKS = {"cut_off": cut_off, "grain": grain}


def image_checks(pictures, limits: Mapping[str, float]) -> list[str]:
    """Per picture (n, height, width, channels): `PASSED`, or the names of the checks whose measure is above
    its limit in `limits`, comma-separated. A check without a limit is not made."""
    over = {name: IMAGE_CHECKS[name](pictures) > limit for name, limit in limits.items()}
    return [", ".join(name for name, flags in over.items() if flags[i]) or PASSED for i in range(len(pictures))]


@dataclass(frozen=True)
class ReviewRule:
    """Which tags go to a person, for one target accuracy: those whose margin is below `threshold`, and those
    whose photo fails an image check, each check's measure above its entry in `limits`."""

    threshold: float
    limits: Mapping[str, float] = field(default_factory=dict)

    def image_checks(self, pictures) -> list[str]:
        """Per picture, `PASSED` or the checks it fails (`image_checks`)."""
        return image_checks(pictures, self.limits)

    def needs_review(self, margin, image_check=PASSED):
        """Whether each tag goes to a person, from its margin and its picture's `image_checks` verdict."""
        return needs_review(margin, self.threshold, image_check)


def load_review_rule(path, target: str) -> ReviewRule:
    """The review rule for target accuracy `target` ("0.99") from the notebook's review thresholds file: its
    margin threshold and the image checks' limits (none in a file written before the checks)."""
    try:
        review = json.loads(Path(path).read_text())
        thresholds, limits = dict(review["thresholds"]), dict(review.get("image_limits", {}))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise RuntimeError(f"cannot read the review thresholds {path}: {error}; `make run` writes them") from None
    if target not in thresholds:
        raise RuntimeError(f"target accuracy {target} has no threshold in {path}; choose one of {sorted(thresholds)}")
    try:
        if not set(limits) <= set(IMAGE_CHECKS):
            raise ValueError(f"unknown checks {sorted(set(limits) - set(IMAGE_CHECKS))}")
        return ReviewRule(float(thresholds[target]), {name: float(limit) for name, limit in limits.items()})
    except (TypeError, ValueError) as error:
        raise RuntimeError(
            f"{path}: the threshold must be a number and image_limits map some of {sorted(IMAGE_CHECKS)} to "
            f"numbers: {error}"
        ) from None
