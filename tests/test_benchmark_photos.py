"""The photo benchmark's two renderers: each condition makes a photo of the garment, the second in linear light."""

import numpy as np
import pytest

from benchmarks import photos, photos_heldout


def garment() -> np.ndarray:
    """A 28 × 28 Fashion-MNIST-like image: a bright block (the garment) on black."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 8:20] = 220
    return image


@pytest.mark.parametrize(("renderer", "name"), [(photos, n) for n in photos.CONDITIONS if n not in photos.TODAY])
def test_the_tuning_sets_new_kinds_show_the_garment_darker_than_its_background(renderer, name):
    condition = {**photos.DEFAULT, **photos.CONDITIONS[name], "size": 200}
    photo = photos.photo_pixels(garment(), condition, np.random.default_rng(0)).astype(float).mean(axis=-1)
    middle, corner = photo[90:110, 90:110].mean(), photo[:20, :20].mean()
    assert photo.shape == (200, 200) and middle < corner - 60, name


@pytest.mark.parametrize("name", list(photos_heldout.CONDITIONS))
def test_the_held_out_renderer_makes_an_srgb_photo_of_the_garment(name):
    condition = {**photos_heldout.DEFAULT, **photos_heldout.CONDITIONS[name], "size": 160}
    photo = photos_heldout.photo_pixels(garment(), condition, np.random.default_rng(0))
    assert photo.dtype == np.uint8 and photo.shape == (160, 160, 3)
    middle, corner = photo[70:90, 70:90].astype(float).mean(), photo[:12, :12].astype(float).mean()
    assert abs(middle - corner) > 20, name  # the garment stands out, darker or lighter, in every condition


def test_linear_light_round_trips_to_srgb():
    levels = np.arange(256)
    np.testing.assert_array_equal(photos_heldout.to_srgb(photos_heldout.to_linear(levels)), levels)
