"""The image checks of review rule (e) (`benchmarks.review_rule`, docs/robustness.md, step 4's second amendment)."""

import numpy as np
import pytest

from benchmarks import review_rule


def garment(top, left, size, level=0.8):
    """A 28 × 28 image in [0, 1] with a square garment of `size` pixels at (`top`, `left`), with a channel axis."""
    image = np.zeros((28, 28, 1), np.float32)
    image[top : top + size, left : left + size] = level
    return image


def test_cut_off_is_the_share_of_the_edge_the_garment_reaches():
    images = np.stack([garment(4, 4, 20), garment(0, 0, 28), garment(0, 4, 20), np.zeros((28, 28, 1), np.float32)])
    assert review_rule.cut_off(images).tolist() == [0.0, 1.0, 20 / 108, 0.0]


def test_a_faint_background_counts_as_garment_where_it_clears_the_outline():
    images = np.stack([garment(4, 4, 20) + 0.04, garment(4, 4, 20) + 0.06])
    assert review_rule.cut_off(images).tolist() == [0.0, 1.0]


def test_against_its_own_background_a_lifted_background_is_not_garment():
    images = np.stack([garment(4, 4, 20) + 0.06, garment(0, 4, 20) + 0.3])
    assert review_rule.cut_off(images, background_percentile=5).tolist() == [0.0, 20 / 108]


def test_grain_grows_with_noise_and_is_nothing_on_a_plain_image():
    rng = np.random.default_rng(0)
    clean = garment(4, 4, 20)  # only its four corners differ from their 3 × 3 median
    noisy = [np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1) for sigma in (0.04, 0.12)]
    grains = review_rule.grain(np.stack([np.full_like(clean, 0.5), clean, *noisy]))
    assert grains[0] == 0 and grains[1] == pytest.approx(4 * 0.8 / 784) and grains[1] < grains[2] < grains[3]


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
