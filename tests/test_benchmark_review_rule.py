"""The review rules that `benchmarks.review_rule` compares (docs/robustness.md, step 4 and its amendments)."""

import numpy as np
import pytest

from benchmarks import review_rule
from fmnist import calibrate


def test_a_photo_goes_to_review_when_any_score_passes_its_limit():
    probabilities = np.array([[0.98, 0.01, 0.01], [0.98, 0.01, 0.01], [0.5, 0.4, 0.1]])
    scores = np.array([[0.1, 0.0, 0.0], [0.1, 0.9, 0.0], [0.1, 0.0, 0.0]])
    judged = review_rule.judged(probabilities, scores, np.zeros(3, int), 1.0, {"0.99": 0.5}, np.array([1, 0.5, 1]))
    assert judged["0.99"]["coverage"] == pytest.approx(1 / 3, abs=1e-4) and judged["0.99"]["accuracy"] == 1.0


def test_disagreement_is_half_the_summed_difference_between_the_two_views():
    probabilities = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    mirrored = np.array([[0.0, 1.0], [0.5, 0.5], [0.7, 0.3]])
    assert review_rule.disagreement(probabilities, mirrored) == pytest.approx([1.0, 0.0, 0.2])


def test_the_mirror_averaged_rules_share_one_fit_and_add_their_limits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    probabilities = rng.dirichlet(np.ones(10), 500)
    probabilities[np.arange(400), labels[:400]] += 3  # most of them right and sure
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    scores = rng.random((500, len(review_rule.SCORES)))
    augmented = {name: probabilities for name in ("training augmentation", "calibration augmentation")}
    rules = review_rule.fitted_rules((probabilities, scores), augmented, labels, mirror_averaged=True)
    (f, g, h, i) = rules.values()
    assert f[:2] == g[:2] == h[:2] == i[:2] and f[2] == {}
    disagreement = np.percentile(scores[:, review_rule.SCORES.index("disagreement")], 99)
    assert g[2] == {"disagreement": disagreement} and set(h[2]) == {"disagreement", "cut_off", "grain"}
    assert i[2]["grain"] == np.percentile(scores[:, review_rule.SCORES.index("grain")], 99) < h[2]["grain"]
    assert set(i[2]) == {"cut_off_background", "grain"}


def test_rule_j_fits_its_thresholds_on_the_images_that_pass_the_checks_only():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 500)
    probabilities = rng.dirichlet(np.ones(10), 500)
    probabilities[np.arange(400), labels[:400]] += rng.uniform(0, 6, 400)  # most of them right, some sure
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    cut = np.arange(500) % 10 == 0  # a tenth of the photos: the garment reaches every edge, the image's middle dark
    wrong = (labels + 1) % 10
    probabilities[cut] = np.eye(10)[wrong[cut]] * 0.9 + 0.01  # and the network is sure of a wrong class
    images = np.zeros((500, 28, 28, 1))
    images[:, 8:20, 8:20] = 1.0  # a garment in the middle
    images[cut] = 1.0
    images[cut, 9:19, 9:19] = 0.0
    scores = rng.random((500, len(review_rule.SCORES)))
    augmented = {name: probabilities for name in ("training augmentation", "calibration augmentation")}
    review_images = np.concatenate([images, images])
    rules = review_rule.fitted_rules((probabilities, scores), augmented, labels, True, review_images)
    i = rules["(i) mirror averaged, with image checks against the background"]
    j = rules["(j) mirror averaged, thresholds fitted on the images that pass the checks"]
    assert j[0] == i[0] and j[2] == i[2]  # the same temperature and limits
    scaled = calibrate.apply_temperature(np.concatenate([probabilities, probabilities]), j[0])
    right, passed = scaled.argmax(axis=1) == np.tile(labels, 2), ~np.tile(cut, 2)
    for target, threshold in j[1].items():
        expected = calibrate.review_threshold(calibrate.margin(scaled)[passed], right[passed], float(target))
        assert threshold == expected < i[1][target]
