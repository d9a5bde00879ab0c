"""Fashion-MNIST's conversion of a product photo (`fmnist.core.images`), step by step and end to end."""

import io

import numpy as np
import pytest
from PIL import Image

from fmnist.core import images


def garment(height=20, width=10):
    """A Fashion-MNIST-like garment: a light rectangle, brighter in the middle, on black, 28 × 28."""
    picture = np.zeros((28, 28), dtype=np.uint8)
    top, left = (28 - height + 1) // 2, (28 - width + 1) // 2
    picture[top : top + height, left : left + width] = 180
    picture[top + 2 : top + height - 2, left + 2 : left + width - 2] = 250
    return picture


def as_photo(picture, scale=10, margin=60, background=255, noise=0.0, offset=(0, 0), resample=Image.Resampling.NEAREST):
    """`picture` enlarged, dark on a light background (light on a dark one), with margins: an 8-bit gray photo."""
    big = np.asarray(Image.fromarray(picture).resize((28 * scale, 28 * scale), resample), float)
    height, width = big.shape
    canvas = np.full((height + 2 * margin, width + 2 * margin), float(background))
    top, left = margin + offset[0], margin + offset[1]
    target = 0.0 if background > 127 else 255.0
    region = canvas[top : top + height, left : left + width]
    region += (target - region) * big / 255
    canvas += np.random.default_rng(0).normal(0, noise, canvas.shape) if noise else 0
    return np.clip(canvas, 0, 255).round().astype(np.uint8)


def encoded(array, image_format="PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def test_a_fashion_mnist_image_passes_through_unchanged():
    picture = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    picture[0] = picture[-1] = picture[:, 0] = picture[:, -1] = 0
    np.testing.assert_allclose(images.to_model_input(picture)[..., 0] * 255, picture, atol=1e-3)
    np.testing.assert_allclose(images.to_model_input(255 - picture)[..., 0] * 255, picture, atol=1e-3)


@pytest.mark.parametrize(
    ("name", "photo"),
    [
        ("wide white margins", as_photo(garment(), margin=200)),
        ("off-centre", as_photo(garment(), margin=120, offset=(-100, 90))),
        ("off-white", as_photo(garment(), background=228)),
        ("dark background", as_photo(garment(), background=20)),
        ("noisy background", as_photo(garment(), noise=8)),
    ],
)
def test_the_garment_is_trimmed_resized_to_28_and_centred(name, photo):
    converted = images.to_model_input(photo)[..., 0] * 255
    rows, columns = np.flatnonzero(converted.max(axis=1) > 60), np.flatnonzero(converted.max(axis=0) > 60)
    assert (rows[0], rows[-1]) == (0, 27), name  # the longest edge fills the 28 pixels again
    assert abs(columns[0] - (27 - columns[-1])) <= 1, name  # centred
    assert 12 <= len(columns) <= 16, name  # the 20 × 10 garment keeps its aspect ratio
    assert converted[:, : columns[0]].max() < 10 and converted[:, columns[-1] + 1 :].max() < 10, name  # black
    assert converted[14, 14] > 200, name  # the garment is light


@pytest.mark.parametrize("noise", [0, 8])
def test_a_photo_enlarged_smoothly_from_28_x_28_converts_back_to_nearly_the_same_image(noise):
    # A Lanczos enlargement softens the edges: unless the box is measured to the fraction of a pixel, a trim
    # takes that softness for garment and the garment comes back too small.
    picture = garment(height=28, width=14)
    photo = as_photo(picture, scale=12, margin=100, noise=noise, resample=Image.Resampling.LANCZOS)
    darkening = 255 * (1 - (1 - picture / 255) ** images.TONE_EXPONENT)  # blended in levels, measured to a power
    error = np.abs(images.to_model_input(photo)[..., 0] * 255 - darkening)
    assert error.mean() < 5 and error.max() < 40, (error.mean(), error.max())


def test_a_photo_where_nothing_stands_out_keeps_its_whole_frame():
    converted = images.to_model_input(np.full((300, 200), 240, dtype=np.uint8))
    assert converted.shape == (28, 28, 1) and converted.max() == 0


def test_decode_applies_the_exif_orientation_and_puts_transparency_on_white():
    tall = as_photo(garment(height=24, width=8), margin=30)
    upright = images.decode(images.open_image(encoded(tall)))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: the viewer turns it 90° clockwise
    rotated = Image.fromarray(tall).transpose(Image.Transpose.ROTATE_90)
    buffer = io.BytesIO()
    rotated.save(buffer, format="JPEG", exif=exif, quality=95)
    np.testing.assert_allclose(images.decode(images.open_image(buffer.getvalue())), upright, atol=0.1)
    transparent = np.zeros((*tall.shape, 4), dtype=np.uint8)
    transparent[..., 3] = 255 - tall  # the garment opaque black, the background transparent
    converted = images.decode(images.open_image(encoded(transparent)))
    np.testing.assert_allclose(converted, upright, atol=0.05)


def test_jpeg_noise_and_a_large_photo_give_nearly_the_same_input():
    photo = as_photo(garment(), scale=40, margin=300)
    reference = images.decode(images.open_image(encoded(photo)))
    for quality in (50, 90):
        jpeg = images.decode(images.open_image(encoded(photo, "JPEG", quality=quality)))
        assert np.abs(jpeg - reference).mean() < 0.03, quality


def lit(photo, light):
    """A gray photo under `light`, a field of shares of full light the size of the photo, as colour."""
    return np.clip(np.repeat(photo[..., np.newaxis], 3, axis=2) * light[..., np.newaxis], 0, 255).astype(np.uint8)


def sweep(shape, bottom=0.78):
    return np.repeat(np.linspace(1.0, bottom, shape[0])[:, np.newaxis], shape[1], axis=1)


def vignette(shape, corners=0.7):
    y, x = np.mgrid[: shape[0], : shape[1]]
    radius = np.hypot(y / (shape[0] - 1) * 2 - 1, x / (shape[1] - 1) * 2 - 1) / np.sqrt(2)
    return 1 - (1 - corners) * radius**2


@pytest.mark.parametrize(("name", "light"), [("a sweep", sweep), ("a vignette", vignette)])
def test_a_background_whose_light_varies_converts_like_an_even_one(name, light):
    photo = as_photo(garment(), margin=120)
    even = images.to_model_input(photo)
    uneven = images.to_model_input(lit(photo, light(photo.shape)))
    assert np.abs(uneven - even).mean() * 255 < 6, name  # the background's fall-off is not garment
    assert uneven[:, :4].max() * 255 < 10 and uneven[:, -4:].max() * 255 < 10, name  # beside the garment: black


def test_a_coloured_garment_stands_out_in_the_channel_it_absorbs():
    photo = as_photo(garment(), margin=120)
    red = np.repeat(np.full_like(photo, 255)[..., np.newaxis], 3, axis=2)
    red[..., 1] = red[..., 2] = photo  # a red garment: it takes away the green and the blue
    converted = images.to_model_input(red)
    np.testing.assert_allclose(converted, images.to_model_input(photo), atol=1e-6)


def test_the_background_surface_fits_a_sweep_and_ignores_a_garment_touching_the_border():
    shape = (200, 150, 1)
    background = 250 * sweep(shape[:2])[..., np.newaxis]
    photo = background.copy()
    photo[150:, 40:110] = 30  # a garment cut off at the bottom edge
    surface = images.background_surface(photo.astype(np.uint8))
    assert np.abs(surface - background).max() < 3


def test_the_darkening_is_measured_part_of_the_way_to_linear_light():
    # A garment at level 128 on white: in the photo's own levels it takes away half the light; a camera's sRGB
    # encoding shows one that takes away more than that at 128, so the darkening is measured on the levels to
    # the power 1.5, between those levels (127 here) and linear light (powers of about 2.2, 200 here).
    picture = np.zeros((28, 28), dtype=np.uint8)
    picture[4:24, 9:19] = 127
    converted = images.to_model_input(as_photo(picture, margin=120))[..., 0] * 255
    assert abs(converted[14, 14] - 255 * (1 - (128 / 255) ** 1.5)) < 2, converted[14, 14]


def test_an_image_too_large_to_decode_is_told_apart_from_one_that_cannot_be_read(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    with pytest.raises(images.TooLargeError, match="the limit is 10,000 pixels"):
        images.open_image(encoded(np.zeros((101, 100), dtype=np.uint8)))
    for unreadable in (b"", b"\x89PNG not really"):
        with pytest.raises(images.InputError) as refused:
            images.open_image(unreadable)
        assert not isinstance(refused.value, images.TooLargeError)
