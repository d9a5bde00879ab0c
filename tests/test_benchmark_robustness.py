import numpy as np
import pytest

from benchmarks import robustness
from fmnist.core.review import ReviewRule


def bar(rows=slice(12, 16), columns=slice(4, 24)):
    """A uint8 image of one light horizontal bar on black, shape (1, 28, 28)."""
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, rows, columns] = 200
    return image


def spread(image, axis):
    """The extent of the lit pixels along `axis` (0: rows, 1: columns)."""
    lit = np.flatnonzero(image.max(axis=1 - axis) > 60)
    return lit.max() - lit.min() + 1


@pytest.mark.parametrize("name", list(robustness.CONDITIONS))
def test_every_condition_is_repeatable_and_gives_8_bit_images_of_the_same_shape(name):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    first = robustness.changed(images, name, seed=3)
    assert first.dtype == np.uint8 and first.shape == images.shape
    np.testing.assert_array_equal(first, robustness.changed(images, name, seed=3))


def test_the_mirror_swaps_left_and_right():
    image = bar(columns=slice(2, 8))
    np.testing.assert_array_equal(robustness.changed(image, "mirrored")[0], image[0, :, ::-1])


def test_a_tilt_of_15_degrees_raises_one_end_of_a_bar():
    tilted = robustness.changed(bar(), "tilted 15°")[0]
    height = spread(tilted, axis=0)
    # a 20-pixel bar 4 rows thick, turned by 15°, spans about 4 / cos 15° + 20 sin 15° ≈ 9 rows
    assert 8 <= height <= 11


def test_zooming_in_crops_and_zooming_out_shrinks_the_garment():
    garment = bar(rows=slice(2, 26), columns=slice(2, 26))  # 24 pixels wide: 31 enlarged, more than the frame
    assert spread(robustness.changed(garment, "zoomed in 1.3× (cropped)")[0], axis=1) == 28
    assert 14 <= spread(robustness.changed(garment, "zoomed out 0.6×")[0], axis=1) <= 16


@pytest.mark.parametrize("kind", ["tilted", "sheared", "defocus", "sensor noise", "JPEG quality", "contrast"])
def test_each_kind_changes_the_images_more_at_a_higher_severity(kind):
    images = np.random.default_rng(1).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    images[:, :, :6] = 0  # a black margin, as in Fashion-MNIST
    names = [name for name in robustness.CONDITIONS if name.startswith(kind)]
    changes = [np.abs(robustness.changed(images, name).astype(float) - images).mean() for name in names]
    assert len(names) >= 2 and changes == sorted(changes)


PROBABILITIES = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8], [0.7, 0.3]])
LABELS = np.array([0, 1, 1, 1])  # right, wrong (low margin), right, wrong (high margin)


def test_the_auto_tag_figures_count_only_the_images_above_the_threshold():
    passed = ["ok"] * 4
    result = robustness.auto_tagging(PROBABILITIES, passed, LABELS, {"0.99": ReviewRule(0.3)})
    assert result == {"0.99": {"coverage": 0.75, "accuracy": round(2 / 3, 4)}}
    assert robustness.auto_tagging(PROBABILITIES, passed, LABELS, {"0.99": ReviewRule(2.0)})["0.99"]["accuracy"] is None


def test_an_image_that_fails_a_check_is_not_tagged_alone():
    one_failed = ["ok", "ok", "ok", "grain"]  # the wrong answer with the high margin
    result = robustness.auto_tagging(PROBABILITIES, one_failed, LABELS, {"0.99": ReviewRule(0.3)})
    assert result == {"0.99": {"coverage": 0.5, "accuracy": 1.0}}


def test_the_summary_names_the_worst_condition_and_the_worst_auto_tag_accuracy():
    def result(accuracy, tagged):
        return {"accuracy": accuracy, "auto_tagging": {"0.99": {"coverage": 0.5, "accuracy": tagged}}}

    results = {"28x28": {"unchanged": result(0.94, 0.99), "a": result(0.9, 0.97), "b": result(0.7, None)}}
    summary = robustness.summary(results)["28x28"]
    assert summary["mean_accuracy"] == 0.8 and summary["worst_condition"] == "b"
    assert summary["worst_auto_tag_accuracy"] == {"0.99": 0.97}
