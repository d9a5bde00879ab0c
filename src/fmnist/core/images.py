"""Turn a shop's product photo or a pixel array into a model's input, or say why not.

An image file is decoded with Pillow (PNG, JPEG, WebP, ...), turned upright by its EXIF orientation, put on
white where it is transparent and made 8-bit, gray or colour (16-bit images are scaled, not clipped). For a
model trained on photos (`fit`), it is then kept in proportion on its own background and resized, as in that
model's training. For the Fashion-MNIST model (`decode`), it goes through the conversion that made
Fashion-MNIST out of Zalando's product photos (Xiao, Rasul and Vollgraf 2017, section 2; docs/photos.md shows
each step), on a background modelled as a smooth surface so that a sweep, a vignette or uneven light does not
count as garment: negate, so the garment is light on black, trim the background around the garment, resize the
longest edge to 28, sharpen and centre on a 28 × 28 canvas. An image of 28 × 28 is taken as already converted,
and only negated when its background is light.
"""

import functools
import io
import warnings

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

SIZE = 28
WORKING_SIZE = 256  # larger photos are box-averaged down to about this first: faster, and it evens out noise
DENOISE = 0.15  # the blur's radius before the trim, in 28ths of the garment's longest side
TRIM_DISTANCE = 0.10 * 255  # pixels this close to the background colour (beyond its texture) are background
TONE_EXPONENT = 1.5  # the darkening is measured on the levels to this power: part of the way to linear light
NOISE_SIGMAS = 2  # a noisy or textured background reaches 2 of its standard deviations towards the garment
BORDER = 0.02  # the background surface is fitted to a border ring this share of the longest side wide
SURFACE_POINTS = 4000  # at most this many of the ring's pixels
SURFACE_PASSES = 3  # fits, each dropping the ring pixels far from the last (the garment where it touches)
SURFACE_SIGMAS = 3  # how far is far: robust standard deviations of the fit's residuals
MIN_ROW_SHARE = 0.01  # a row or column is garment when more than 1 % of it (and 2 pixels) is
EDGE_INSET = 0.3  # the trimmed box's edges move in by this much of a 28th: how far out a blurred edge reaches
SHARPEN_RADIUS = 0.5  # the unsharp mask's radius after the resize, in pixels of the model's input
SHARPEN_PERCENT = 170  # and its strength
MAX_PIXELS = 40_000_000  # about 6,300 × 6,300; larger images are refused before decoding
DRAFT_SIZE = 224


class InputError(ValueError):
    """The input cannot be turned into an image; the message says why."""


class TooLargeError(InputError):
    """The image is too large to decode safely: more than `MAX_PIXELS` pixels, or a decompression bomb."""


def _to_8_bit(image: Image.Image) -> Image.Image:
    """`image` as 8-bit gray ("L") or colour ("RGB"): 16-bit and float images scaled, not clipped; transparency
    put on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        return Image.fromarray(np.clip(pixels / peak * 255.0, 0, 255).round().astype(np.uint8))
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L" if image.mode == "LA" else "RGB")
    return image.convert("L" if image.mode in ("1", "L") else "RGB")


def open_image(payload: bytes) -> Image.Image:
    """Read an image file's header, without decoding its pixels; refuse what cannot or must not be decoded."""
    if not payload:
        raise InputError("the request has no image data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(payload))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise TooLargeError(f"the image is too large to decode safely: {error}") from None
    except UnidentifiedImageError:  # its own message names a Python object, not the problem
        raise InputError("the data is not a readable image (PNG, JPEG, WebP, ...): its format is unknown") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise InputError(f"the data is not a readable image (PNG, JPEG, WebP, ...): {error}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TooLargeError(f"the image is {width}×{height} pixels; the limit is {MAX_PIXELS:,} pixels")
    return image


def decode(image: Image.Image) -> np.ndarray:
    """Decode an image from `open_image` into a float32 array (28, 28, 1) in [0, 1]; raise `InputError`."""
    return to_model_input(pixels(image))


def pixels(image: Image.Image, draft_size: int = DRAFT_SIZE) -> np.ndarray:
    """Decode an image from `open_image`, upright, into 8-bit pixels, gray (h, w) or colour (h, w, 3).

    A JPEG decodes straight at a reduced scale (1/2 to 1/8, at least `draft_size` pixels a side): the model
    sees far fewer pixels, and decoding a phone photo at full size costs many times more.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.draft(image.mode, (draft_size, draft_size))
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombWarning) as error:
        raise InputError(f"the data is not a readable image (PNG, JPEG, WebP, ...): {error}") from None
    return np.asarray(_to_8_bit(image), dtype=np.uint8)


def fit(pixels: np.ndarray, size: int, channels: int) -> np.ndarray:
    """A model trained on photos sees them so, in training and in serving: the photo kept in proportion,
    padded to a square with its own background colour (the median of its border ring), resized to `size`;
    float32 (size, size, channels) in [0, 1]."""
    colour = np.repeat(pixels[..., np.newaxis], 3, axis=2) if pixels.ndim == 2 else pixels
    height, width = colour.shape[:2]
    side = max(height, width)
    square = np.empty((side, side, 3), dtype=np.uint8)
    square[:] = background_colour(colour).round().astype(np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = colour
    resized = Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    picture = resized if channels == 3 else resized.convert("L")
    return np.asarray(picture, dtype=np.float32).reshape(size, size, channels) / 255.0


def to_model_input(pixels: np.ndarray) -> np.ndarray:
    """Fashion-MNIST's conversion of an 8-bit photo, gray (h, w) or colour (h, w, 3): a float32 array
    (28, 28, 1) in [0, 1], garment light on black."""
    if pixels.shape[:2] == (SIZE, SIZE):
        gray = pixels if pixels.ndim == 2 else np.asarray(Image.fromarray(pixels).convert("L"))
        converted = 255 - gray if np.median(border_ring(gray)) > 127 else gray
        return (converted.astype(np.float32) / 255.0)[..., np.newaxis]
    colour = working_copy(pixels)
    colour = colour if colour.ndim == 3 else colour[..., np.newaxis]
    intensity = garment_intensity(colour, background_surface(colour))
    intensity = denoise(intensity, background_texture(intensity))
    texture = background_texture(intensity)
    return (centre(sharpen(resize_longest_edge(intensity, trim(intensity, texture)))) / 255.0)[..., np.newaxis]


def ring_mask(shape: tuple) -> np.ndarray:
    """The border ring of an image of `shape`: `BORDER` of its longest side wide, at least one pixel."""
    width = max(1, round(BORDER * max(shape[:2])))
    mask = np.ones(shape[:2], dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def border_ring(pixels: np.ndarray) -> np.ndarray:
    """The pixels of the border ring, (n,) or (n, channels)."""
    return pixels[ring_mask(pixels.shape)]


def background_colour(pixels: np.ndarray) -> np.ndarray:
    """A photo's background: the median of its border ring, per channel."""
    return np.median(border_ring(pixels), axis=0)


def _coordinate(index: np.ndarray, length: int) -> np.ndarray:
    """Pixel indices along an axis of `length` as coordinates from -1 to 1."""
    return index / max(length - 1, 1) * 2 - 1


def _quadratic_terms(ys: np.ndarray, xs: np.ndarray, shape: tuple) -> np.ndarray:
    y, x = _coordinate(ys, shape[0]), _coordinate(xs, shape[1])
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def largest_channel(values: np.ndarray) -> np.ndarray:
    """The largest of `values` over its last axis, the colour channels: many times faster than .max(axis=-1)."""
    return functools.reduce(np.maximum, np.moveaxis(values, -1, 0))


def background_surface(colour: np.ndarray) -> np.ndarray:
    """The background as a smooth surface, (h, w, channels): per channel a quadratic in x and y fitted by least
    squares to the border ring (at most `SURFACE_POINTS` of its pixels), `SURFACE_PASSES` times, each pass
    dropping the pixels darker than the last fit (lighter, on a dark background) by more than `SURFACE_SIGMAS`
    robust standard deviations, so that a garment touching the border does not count and the background's own
    light parts do. A sweep, a vignette or light falling off across the photo fits it; a plain background is
    its flat special case."""
    ys, xs = np.nonzero(ring_mask(colour.shape))
    step = max(1, len(ys) // SURFACE_POINTS)
    ys, xs = ys[::step], xs[::step]
    terms, values = _quadratic_terms(ys, xs, colour.shape), colour[ys, xs].astype(np.float64)
    keep, light = np.ones(len(ys), dtype=bool), np.median(values) > 127
    for _ in range(SURFACE_PASSES):
        # Least squares by the normal equations, 6 × 6: many times faster than on the ring's pixels, and lstsq
        # gives the least-norm fit where they are singular (a ring one pixel tall, say).
        kept = terms[keep]
        coefficients = np.linalg.lstsq(kept.T @ kept, kept.T @ values[keep], rcond=None)[0]
        residual = values - terms @ coefficients
        spread = 1.4826 * np.median(largest_channel(np.abs(residual[keep]))) + 0.5
        keep = largest_channel(-residual if light else residual) <= SURFACE_SIGMAS * spread
    height, width = colour.shape[:2]
    y = _coordinate(np.arange(height), height).astype(np.float32)[:, None]
    x = _coordinate(np.arange(width), width).astype(np.float32)[None, :]
    planes = []  # one channel at a time: several times faster than broadcasting over a last axis of 3
    for one, along_x, along_y, xx, xy, yy in coefficients.astype(np.float32).T:  # _quadratic_terms' order
        planes.append(np.clip((one + along_y * y + yy * y * y) + (along_x * x + xx * x * x) + xy * (x * y), 0, 255))
    return np.stack(planes, axis=-1)


def garment_intensity(colour: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """The negated photo on 0-255: each pixel's largest departure, over the colour channels, from the background
    surface towards the garment, relative to how far it could go. On a light background that is the share of
    the light the garment takes away, so light falling off over the garment cancels; a coloured garment stands
    out in the channel it absorbs. A light, off-white or dark background ends up black and the garment light.
    Both are measured on the levels raised to `TONE_EXPONENT`, between the photo's sRGB levels and linear light
    (about 2.2): a garment that a camera records in linear light converts close to its Fashion-MNIST levels,
    and so does one blended in the photo's own levels."""
    level, background = (colour.astype(np.float32) / 255.0) ** TONE_EXPONENT, (surface / 255.0) ** TONE_EXPONENT
    if surface.mean() > 127:  # the surface is smooth: its mean says light or dark as well as its median
        distance = (background - level) / np.maximum(background, 1 / 255)
    else:
        distance = (level - background) / np.maximum(1 - background, 1 / 255)
    return np.clip(largest_channel(distance) * 255.0, 0, 255).astype(np.float32)


def background_texture(intensity: np.ndarray) -> float:
    """How far the background's texture or noise reaches towards the garment, on the intensity's 0-255 scale:
    `NOISE_SIGMAS` standard deviations, estimated from the upper quartile of the border ring's intensity, so
    that a garment touching up to a quarter of the border does not count."""
    return NOISE_SIGMAS * float(np.percentile(border_ring(intensity), 75)) / 0.6745


def working_copy(pixels: np.ndarray) -> np.ndarray:
    """`pixels` box-averaged down by a whole factor so that the longest side is about `WORKING_SIZE`."""
    factor = max(pixels.shape[:2]) // WORKING_SIZE
    return np.asarray(Image.fromarray(pixels).reduce(factor)) if factor > 1 else pixels


def denoise(intensity: np.ndarray, texture: float) -> np.ndarray:
    """`intensity` blurred (Gaussian) by `DENOISE` of a 28th of the garment's longest side: it evens out sensor
    noise, JPEG noise and fabric texture finer than one pixel of the model's input, at any photo size."""
    left, top, right, bottom = trim(intensity, texture)
    radius = float(DENOISE * max(right - left, bottom - top) / SIZE)
    rounded = Image.fromarray(intensity.round().astype(np.uint8))
    return np.asarray(rounded.filter(ImageFilter.GaussianBlur(radius))).astype(np.float32)


def trim(intensity: np.ndarray, texture: float) -> tuple[float, float, float, float]:
    """The box around the garment, (left, top, right, bottom) in pixels: the rows and columns that hold enough
    pixels standing out by `TRIM_DISTANCE` beyond the background's texture, each edge then moved in by
    `EDGE_INSET` of a 28th of the longest side. The whole frame when nothing stands out."""
    mask = intensity > TRIM_DISTANCE + texture
    rows = np.flatnonzero(mask.sum(axis=1) > max(2, MIN_ROW_SHARE * mask.shape[1]))
    columns = np.flatnonzero(mask.sum(axis=0) > max(2, MIN_ROW_SHARE * mask.shape[0]))
    if len(rows) == 0 or len(columns) == 0:
        return 0.0, 0.0, float(intensity.shape[1]), float(intensity.shape[0])
    top, bottom, left, right = float(rows[0]), float(rows[-1] + 1), float(columns[0]), float(columns[-1] + 1)
    inset = EDGE_INSET * max(bottom - top, right - left) / SIZE
    return left + inset, top + inset, right - inset, bottom - inset


def resize_longest_edge(intensity: np.ndarray, box: tuple[float, float, float, float]) -> Image.Image:
    """The garment inside `box` resized (Lanczos, to a fraction of a pixel) so that its longest edge is 28
    pixels; the shorter edge is rounded to whole pixels around the same centre, so the proportions hold."""
    left, top, right, bottom = box
    scale = SIZE / max(right - left, bottom - top)
    width, height = max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale))
    pad = int(np.ceil(1 / scale)) + 1  # black around the photo: the rounding may reach past its edge
    middle_x, middle_y = (left + right) / 2 + pad, (top + bottom) / 2 + pad
    area = (middle_x - width / scale / 2, middle_y - height / scale / 2)
    area += (area[0] + width / scale, area[1] + height / scale)
    source = Image.fromarray(np.pad(intensity, pad).astype(np.float32))  # mode F: no rounding before the resize
    resized = np.asarray(source.resize((width, height), Image.Resampling.LANCZOS, box=area))
    return Image.fromarray(np.clip(resized, 0, 255).round().astype(np.uint8))


def sharpen(picture: Image.Image) -> Image.Image:
    """An unsharp mask, which restores the outlines that the photo and the downscaling softened."""
    return picture.filter(ImageFilter.UnsharpMask(radius=SHARPEN_RADIUS, percent=SHARPEN_PERCENT, threshold=0))


def centre(picture: Image.Image) -> np.ndarray:
    """`picture` in the middle of a black 28 × 28 canvas (float32); an odd spare pixel goes above and left,
    as in Fashion-MNIST's own images."""
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - picture.height + 1) // 2, (SIZE - picture.width + 1) // 2
    canvas[top : top + picture.height, left : left + picture.width] = np.asarray(picture)
    return canvas
