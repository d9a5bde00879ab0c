"""The measures that only benchmarks/explanations.py uses: insertion curves, garment share, the sanity check."""

import numpy as np
import pytest

from benchmarks import explanations
from fmnist import explain

from .test_explain import left_half_predictor


def test_the_insertion_curve_puts_the_top_ranked_pixels_back_first():
    image = np.ones((1, 28, 28, 1), "float32")
    left_first = np.zeros((1, 28, 28))
    left_first[:, :, :14] = 1
    orders = explain.pixel_order(left_first)
    insertion = explanations.insertion_curve(left_half_predictor, image, orders, [0])[0]
    assert insertion[0] == 0 and insertion[10] == 1 and insertion[-1] == 1
    assert np.all(np.diff(insertion) >= 0)


def test_garment_share_of_a_uniform_map_is_the_garment_area():
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, :7] = 1  # a quarter of the image
    assert explanations.garment_share(np.ones((1, 28, 28)), image)[0] == pytest.approx(0.25)


def test_rank_correlation_is_one_for_the_same_ranking_and_low_for_noise():
    maps = np.random.default_rng(0).random((5, 28, 28))
    np.testing.assert_allclose(explanations.rank_correlation(maps, maps**2), 1)
    noise = np.random.default_rng(1).random((5, 28, 28))
    assert np.abs(explanations.rank_correlation(maps, noise)).max() < 0.2
