"""The review rule (`fmnist.core.review`): the margin, the image checks and the rule read from its file."""

import json

import numpy as np
import pytest

from fmnist.core import review


def garment(top, left, size, level=0.8):
    """A 28 × 28 image in [0, 1] with a square garment of `size` pixels at (`top`, `left`), with a channel axis."""
    image = np.zeros((28, 28, 1), np.float32)
    image[top : top + size, left : left + size] = level
    return image


def test_cut_off_is_the_share_of_the_edge_the_garment_reaches():
    images = np.stack([garment(4, 4, 20), garment(0, 0, 28), garment(0, 4, 20), np.zeros((28, 28, 1), np.float32)])
    assert review.cut_off(images, None).tolist() == [0.0, 1.0, 20 / 108, 0.0]


def test_a_faint_background_counts_as_garment_where_it_clears_the_outline():
    images = np.stack([garment(4, 4, 20) + 0.04, garment(4, 4, 20) + 0.06])
    assert review.cut_off(images, None).tolist() == [0.0, 1.0]


def test_against_its_own_background_a_lifted_background_is_not_garment():
    images = np.stack([garment(4, 4, 20) + 0.06, garment(0, 4, 20) + 0.3])
    assert review.cut_off(images).tolist() == [0.0, 20 / 108]


def test_grain_grows_with_noise_and_is_nothing_on_a_plain_image():
    rng = np.random.default_rng(0)
    clean = garment(4, 4, 20)  # only its four corners differ from their 3 × 3 median
    noisy = [np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1) for sigma in (0.04, 0.12)]
    grains = review.grain(np.stack([np.full_like(clean, 0.5), clean, *noisy]))
    assert grains[0] == 0 and grains[1] == pytest.approx(4 * 0.8 / 784) and grains[1] < grains[2] < grains[3]


def test_the_image_checks_name_what_each_picture_fails():
    images = np.stack([garment(4, 4, 20), garment(0, 4, 20), garment(4, 4, 20), garment(0, 4, 20)])
    images[2:, 6:22, 6:22] += np.random.default_rng(0).normal(0, 0.2, (2, 16, 16, 1))  # grain on the garment
    limits = {"cut_off": 0.1, "grain": 0.02}
    assert review.image_checks(images, limits) == [review.PASSED, "cut_off", "grain", "cut_off, grain"]
    assert review.image_checks(images, {}) == [review.PASSED] * 4  # no limit, no check


def test_a_tag_goes_to_review_on_a_small_margin_or_a_failed_check():
    rule = review.ReviewRule(threshold=0.5, limits={"cut_off": 0.1})
    margins, checks = np.array([0.9, 0.3, 0.9]), [review.PASSED, review.PASSED, "cut_off"]
    assert rule.needs_review(margins, checks).tolist() == [False, True, True]
    assert not rule.needs_review(0.9)


def test_the_rule_is_read_from_the_review_file_with_its_limits(tmp_path):
    path = tmp_path / "review_thresholds.json"
    path.write_text(json.dumps({"thresholds": {"0.99": 0.9}, "image_limits": {"cut_off": 0.2, "grain": 0.01}}))
    assert review.load_review_rule(path, "0.99") == review.ReviewRule(0.9, {"cut_off": 0.2, "grain": 0.01})


def test_a_review_file_written_before_the_checks_makes_none(tmp_path):
    path = tmp_path / "review_thresholds.json"
    path.write_text(json.dumps({"score": "margin", "thresholds": {"0.99": 0.9}}))
    assert review.load_review_rule(path, "0.99") == review.ReviewRule(0.9, {})


@pytest.mark.parametrize(
    "content, message",
    [
        ({"thresholds": {"0.99": 0.9}, "image_limits": {"colour": 0.2}}, "unknown checks"),
        ({"thresholds": {"0.99": 0.9}, "image_limits": {"grain": "high"}}, "numbers"),
        ({"thresholds": {"0.99": 0.9}, "image_limits": [0.2]}, "cannot read"),
        ({"thresholds": None}, "cannot read"),
        ({"thresholds": {"0.99": None}}, "must be a number"),
        ({"thresholds": {"0.995": 0.9}}, "choose one of"),
        ([1, 2], "cannot read"),
    ],
)
def test_a_broken_review_file_is_refused_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "review_thresholds.json"
    path.write_text(json.dumps(content))
    with pytest.raises(RuntimeError, match=message):
        review.load_review_rule(path, "0.99")
