import numpy as np
import pytest

from fmnist import calibrate, recipe
from fmnist.core import review


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_with():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 10))
    truth = softmax(logits / 2.0)  # the real probabilities are flatter than softmax(logits): T = 2
    labels = np.array([rng.choice(10, p=row) for row in truth])
    assert calibrate.fit_temperature(softmax(logits), labels) == pytest.approx(2.0, rel=0.05)


def test_fit_temperature_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="as many labels"):
        calibrate.fit_temperature(np.full((3, 10), 0.1), np.array([1, 2]))


def test_apply_temperature_sharpens_below_one_and_keeps_the_ranking():
    probabilities = np.array([[0.5, 0.3, 0.2]])
    sharper = calibrate.apply_temperature(probabilities, 0.5)
    np.testing.assert_allclose(sharper, [[0.25, 0.09, 0.04]] / np.float64(0.38))
    np.testing.assert_allclose(calibrate.apply_temperature(probabilities, 1.0), probabilities)


def test_with_temperature_puts_the_temperature_inside_a_copy_and_leaves_the_model():
    network = recipe.build_model(filters=(4, 8), dense_units=16, seed=0)
    kernel, bias = network.layers[-1].get_weights()
    network.layers[-1].set_weights([kernel, np.linspace(-2, 2, 10, dtype="float32")])  # a trained bias is not 0
    images = np.random.default_rng(0).random((5, 28, 28, 1), dtype="float32")
    before = network.predict(images, verbose=0)
    calibrated = calibrate.with_temperature(network, 0.7)
    np.testing.assert_allclose(
        calibrated.predict(images, verbose=0), calibrate.apply_temperature(before, 0.7), atol=1e-5
    )
    np.testing.assert_array_equal(network.predict(images, verbose=0), before)  # a second fit sees the same model


def test_expected_calibration_error_weighs_each_bins_gap_by_its_share():
    # two images at confidence 0.9, one right: the gap is 0.4; one at 0.55, right: the gap is 0.45
    probabilities = np.array([[0.9, 0.1], [0.1, 0.9], [0.55, 0.45]])
    labels = np.array([0, 0, 0])
    assert calibrate.expected_calibration_error(probabilities, labels) == pytest.approx((2 * 0.4 + 0.45) / 3)
    table = calibrate.reliability(probabilities, labels)
    np.testing.assert_allclose(table["confidence"], [0.55, 0.9])
    np.testing.assert_allclose(table["accuracy"], [1.0, 0.5])
    np.testing.assert_array_equal(table["count"], [1, 2])


def test_margin_is_the_top_probability_minus_the_runner_up():
    np.testing.assert_allclose(calibrate.margin(np.array([[0.1, 0.7, 0.2], [0.4, 0.4, 0.2]])), [0.5, 0.0])


def test_review_threshold_is_the_lowest_score_whose_accepted_images_reach_the_target():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, False])  # accuracy accepting 1..5: 1, 1, 2/3, 3/4, 3/5
    assert calibrate.review_threshold(scores, correct, 0.75) == 0.6
    assert calibrate.review_threshold(scores, correct, 0.9) == 0.8
    assert calibrate.review_threshold(scores, np.zeros(5, bool), 0.5) > 0.9  # nothing reaches it: review all


def test_review_threshold_accepts_ties_together():
    scores = np.array([0.9, 0.8, 0.8, 0.5])
    correct = np.array([True, True, False, True])  # a cut between the two 0.8s would give 1.0: not allowed
    assert calibrate.review_threshold(scores, correct, 0.95) == 0.9


def test_auto_tagging_reports_coverage_and_accuracy_per_target():
    scores, correct = np.array([0.9, 0.8, 0.7, 0.6]), np.array([True, True, False, True])
    report = calibrate.auto_tagging(scores, correct, {0.99: 0.8, 0.5: 0.6})
    assert report == {
        "0.99": {"threshold": 0.8, "coverage": 0.5, "accuracy": 1.0},
        "0.5": {"threshold": 0.6, "coverage": 1.0, "accuracy": 0.75},
    }


def test_each_image_limit_passes_all_but_the_top_of_the_validation_images():
    """The grain limit is the 99th percentile: of 1,000 garments, each with its own grain, 10 fail; none reaches
    the edge, so the cut-off limit fails none."""
    rng = np.random.default_rng(0)
    images = np.zeros((1000, 28, 28, 1), np.float32)
    images[:, 4:24, 4:24] = 0.8
    images[:, 6:22, 6:22] += rng.normal(0, rng.uniform(0, 0.2, (1000, 1, 1, 1)), (1000, 16, 16, 1))
    checks = np.array(review.image_checks(images, calibrate.image_limits(images)))
    assert (checks == "grain").sum() == 10 and (checks == review.PASSED).sum() == 990


def test_a_failed_image_check_scores_below_every_threshold():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1]])
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[:, 4:24, 4:24] = 0.8
    images[1, 4:24, :2] = 0.8  # the second reaches the edge
    scores = calibrate.review_scores(probabilities, images, {"cut_off": 0.01})
    assert scores.tolist() == pytest.approx([0.8, -1.0])
    assert calibrate.auto_tagging(scores, np.array([True, True]), {0.99: 0.0})["0.99"]["coverage"] == 0.5
