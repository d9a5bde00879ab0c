"""The photo benchmark's two renderers: each condition makes a photo of the garment, the second in linear light."""

import argparse

import numpy as np
import pytest

from benchmarks import photos, photos_heldout


def garment() -> np.ndarray:
    """A 28 × 28 Fashion-MNIST-like image: a bright block (the garment) on black."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 8:20] = 220
    return image


@pytest.mark.parametrize(
    ("renderer", "name"), [(photos, n) for n in photos.CONDITIONS if n not in photos.GENERAL_KINDS]
)
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


@pytest.mark.parametrize(
    "name", ["margin 25%", "defocus, 1.5 %", "drop shadow", "fabric texture", "studio sweep, 255 to 200"]
)
def test_a_gray_photo_rendered_in_one_channel_equals_its_three_channel_rendering(name):
    """The renderer draws a gray photo in one channel: a black garment given as a colour takes the RGB path."""
    condition = {**photos.DEFAULT, **photos.CONDITIONS[name], "size": 200}
    gray = photos.photo_pixels(garment(), condition, np.random.default_rng(0))
    rgb = photos.photo_pixels(garment(), {**condition, "colour": (0, 0, 0)}, np.random.default_rng(0))
    np.testing.assert_array_equal(gray, rgb)


def test_the_held_out_set_is_measured_on_the_test_split_only(capsys):
    with pytest.raises(SystemExit):
        photos.main(["--split", "validation", "--set", "held-out"])
    assert "test split only" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("split", "chosen", "expected"),
    [("test", None, ["tuning", "held-out"]), ("validation", None, ["tuning"]), ("test", "held-out", ["held-out"])],
)
def test_the_test_split_measures_both_sets_and_validation_the_tuning_set(split, chosen, expected):
    arguments = argparse.Namespace(split=split, set=chosen, conditions=None)
    sets = photos.chosen_sets(argparse.ArgumentParser(), arguments)
    assert list(sets) == expected and all(sets[name] == list(photos.SETS[name][1]) for name in expected)


def test_srgb_through_the_table_is_the_formula_within_one_level():
    linear = np.random.default_rng(0).random(100_000, dtype=np.float32) ** 3  # many dark values
    table, formula = photos_heldout.to_srgb(linear).astype(int), photos_heldout._encode(linear).astype(int)
    assert np.abs(table - formula).max() <= 1 and (table == formula).mean() > 0.99


def test_the_held_out_renderer_gives_the_same_photo_again_from_the_same_seed():
    """The enlargement is kept for the next condition: using it must not change it."""
    condition = {**photos_heldout.DEFAULT, **photos_heldout.CONDITIONS["drop shadow down and right"], "size": 160}
    first, second = (photos_heldout.photo_pixels(garment(), condition, np.random.default_rng(1)) for _ in range(2))
    np.testing.assert_array_equal(first, second)


class Recorder:
    """A stand-in classifier that keeps the model inputs it is given."""

    def __init__(self):
        self.inputs = []

    def __call__(self, inputs: np.ndarray):
        self.inputs.append(inputs)
        return None, np.full((len(inputs), 10), 0.1)


def test_a_blocks_photos_do_not_depend_on_the_blocks_or_the_other_conditions():
    garments, labels = np.stack([np.roll(garment(), shift, axis=1) for shift in range(-3, 3)]), np.zeros(6, int)
    conditions = {
        name: {**photos.DEFAULT, **photos.CONDITIONS[name], "size": 200} for name in ("sensor noise, sd 10", "PNG")
    }
    noisy = {"sensor noise, sd 10": conditions["sensor noise, sd 10"]}
    whole, halves = Recorder(), Recorder()
    photos.run_block(whole, garments, labels, conditions, 0, 0, photos.photo_pixels)
    for first in (0, 3):
        photos.run_block(
            halves, garments[first : first + 3], labels[first : first + 3], noisy, first, 0, photos.photo_pixels
        )
    np.testing.assert_array_equal(whole.inputs[0], np.concatenate(halves.inputs))
    assert not np.array_equal(whole.inputs[0][0], whole.inputs[0][1])
