"""Turn an uploaded photo or a pixel array into a Fashion-MNIST-like 28×28 input, or say why not.

Steps for an image file: decode with Pillow (PNG, JPEG, WebP, ...), apply the EXIF orientation, put any
transparency on white, convert to 8-bit grayscale (16-bit images are scaled, not clipped), invert when the
border is light (Fashion-MNIST shows a light garment on black), pad to a square with the background
colour so the aspect ratio is kept, resize to 28×28 with a box filter, and scale to [0, 1].
"""

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SIZE = 28
MAX_PIXELS = 40_000_000  # about 6,300 × 6,300; larger images are refused before decoding
DRAFT_SIZE = 224


class InputError(ValueError):
    """The input cannot be turned into an image; the message says why. `status` is the HTTP code."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _to_grayscale(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        return Image.fromarray(np.clip(pixels / peak * 255.0, 0, 255).round().astype(np.uint8))
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return image.convert("L")


def open_image(payload: bytes) -> Image.Image:
    """Read an image file's header, without decoding its pixels; refuse what cannot or must not be decoded."""
    if not payload:
        raise InputError("the request has no image data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(payload))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(f"the image is too large to decode safely: {error}", 413) from None
    except UnidentifiedImageError:  # its own message names a Python object, not the problem
        raise InputError("the data is not a readable image (PNG, JPEG, WebP, ...): its format is unknown") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise InputError(f"the data is not a readable image (PNG, JPEG, WebP, ...): {error}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(f"the image is {width}×{height} pixels; the limit is {MAX_PIXELS:,} pixels", 413)
    return image


def decode(image: Image.Image) -> np.ndarray:
    """Decode an image from `open_image` into a float32 array (28, 28, 1) in [0, 1]; raise `InputError`.

    A JPEG decodes straight at a reduced scale (1/2 to 1/8, at least `DRAFT_SIZE` pixels a side): the model
    sees 28 × 28, and decoding a phone photo at full size costs many times more.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.draft("L", (DRAFT_SIZE, DRAFT_SIZE))
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombWarning) as error:
        raise InputError(f"the data is not a readable image (PNG, JPEG, WebP, ...): {error}") from None
    return to_model_input(np.asarray(_to_grayscale(image), dtype=np.uint8))


def to_model_input(gray: np.ndarray) -> np.ndarray:
    """Invert a light background, pad to a square, resize to 28×28 and scale to [0, 1]."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255 - gray
    background = int(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    height, width = gray.shape
    if height != width:
        side = max(height, width)
        square = np.full((side, side), background, dtype=np.uint8)
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = gray
        gray = square
    if gray.shape != (SIZE, SIZE):
        gray = np.asarray(Image.fromarray(gray).resize((SIZE, SIZE), Image.Resampling.BOX))
    return (gray.astype(np.float32) / 255.0)[..., np.newaxis]


def image_from_pixels(pixels) -> np.ndarray:
    """Validate a 28×28 array of numbers in [0, 255] (as sent in JSON) and return the model input."""
    rows_ok = isinstance(pixels, list) and len(pixels) == SIZE
    if not rows_ok or not all(isinstance(row, list) and len(row) == SIZE for row in pixels):
        raise InputError("pixels must be a 28×28 array: a list of 28 rows of 28 numbers each", 422)
    if not all(type(value) in (int, float) for row in pixels for value in row):
        raise InputError("pixels must be numbers from 0 to 255, not strings, booleans or null", 422)
    try:
        array = np.asarray(pixels, dtype=np.float64)
    except OverflowError:  # an integer beyond float64, such as 10**400
        raise InputError("pixels must lie in [0, 255], got an integer too large for a number", 422) from None
    if not np.isfinite(array).all():
        raise InputError("pixels must be finite numbers (no NaN or infinity)", 422)
    if array.min() < 0 or array.max() > 255:
        raise InputError(f"pixels must lie in [0, 255], got values from {array.min():g} to {array.max():g}", 422)
    return (array.astype(np.float32) / 255.0)[..., np.newaxis]
