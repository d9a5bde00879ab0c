"""The held-out set's renderer: product photos made another way than `benchmarks/photos.py` makes them.

Written apart from the first renderer (docs/photos.md, "The two sets, written before the conversion changed"):
it works in linear light, not in 8-bit gray levels. The garment is a surface whose reflectance goes from the
background's to its own colour as the Fashion-MNIST image says; the light falls on garment and background alike
and is what the vignette, the spotlight and the shadows change; the lens blurs in linear light; and only then
is the photo encoded to sRGB. The enlargement is SciPy's spline interpolation (`ndimage.zoom`), not Pillow's
filters. No conversion setting may be chosen on these conditions: they are measured once, on the test split,
at the end."""

import functools

import numpy as np
from scipy import ndimage, signal

DEFAULT = {
    "size": 900,  # the photo's longest side
    "aspect": 1.0,
    "margin": 0.22,  # on each side of the garment, in fractions of its size
    "order": 3,  # the spline's order for the enlargement: 3 cubic, 1 linear
    "background": (246, 245, 241),  # sRGB
    "colour": (35, 35, 38),  # the garment's own colour, sRGB, where the Fashion-MNIST image is brightest
    "second_colour": None,  # the lower half of the garment in another colour
    "sweep": None,  # (direction, top or left level, bottom or right level): "down" or "across", cosine-shaped
    "vignette": 0.0,  # how much less light the corners get (cos⁴ fall-off), centred at `vignette_centre`
    "vignette_centre": (0.5, 0.5),
    "spotlight": 0.0,  # how much less light falls away from the top-left corner, smoothly
    "shadow": None,  # a drop shadow: (right, down, blur) in fractions of the garment's side, and its darkness
    "contact_shadow": 0.0,  # the darkness of an ellipse of shadow under the garment
    "defocus": 0.0,  # a disc (pillbox) blur's radius, in fractions of the garment's side
    "quality": 85,  # JPEG
}
# The second round's held-out set: conditions the tuning never saw, measured once (docs/photos.md, "The second round").
SHADOW = (0.04, 0.04, 0.08, 0.4)
CONDITIONS = {
    "cubic spline enlargement, 960 px": {"size": 960},
    "linear spline enlargement, 650 px": {"order": 1, "size": 650},
    "disc defocus, 2 %": {"defocus": 0.02},
    "drop shadow down and right": {"shadow": SHADOW},
    "contact shadow, 35 %": {"contact_shadow": 0.35},
    "warm grey background with a shadow": {"background": (205, 200, 190), "shadow": SHADOW},
    "cosine sweep, darker at the bottom": {"sweep": ("down", 250, 180)},
    "side sweep, darker on the left": {"sweep": ("across", 190, 250)},
    "vignette cos⁴, centred low and right": {"vignette": 0.35, "vignette_centre": (0.6, 0.65)},
    "spotlight from the top left, 25 %": {"spotlight": 0.25},
    "olive garment": {"colour": (100, 110, 40)},
    "plum garment": {"colour": (90, 40, 90)},
    "coral garment": {"colour": (230, 110, 90)},
    "two colours, dark grey over cream": {"colour": (60, 60, 60), "second_colour": (220, 210, 180)},
    "sweep, spotlight and colour": {"sweep": ("down", 250, 195), "spotlight": 0.25, "colour": (100, 110, 40)},
}


def to_linear(srgb) -> np.ndarray:
    """sRGB levels 0-255 to linear light 0-1."""
    value = np.asarray(srgb, dtype=np.float32) / 255.0
    return np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4)


def _encode(value: np.ndarray) -> np.ndarray:
    """Linear light 0-1 to sRGB levels, uint8."""
    encoded = np.where(value <= 0.0031308, value * 12.92, 1.055 * value ** (1 / 2.4) - 0.055)
    return np.clip(encoded * 255.0, 0, 255).round().astype(np.uint8)


STEPS = 65535  # to_srgb's table: a step of linear light is a twentieth of an sRGB level even near black
SRGB = _encode(np.linspace(0.0, 1.0, STEPS + 1))


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light 0-1 to sRGB levels, uint8, through a table: several times faster than the formula."""
    return SRGB[(np.clip(linear, 0.0, 1.0) * STEPS + 0.5).astype(np.int32)]


NOISE = np.random.default_rng(0).standard_normal(2**23, dtype=np.float32)  # more than a photo of 1,000 px


def sensor_noise(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of standard deviation 1, a window of `NOISE` at a random place: drawing it anew for every
    photo took a third of the rendering."""
    count = int(np.prod(shape))
    start = rng.integers(len(NOISE) - count)
    return NOISE[start : start + count].reshape(shape)


@functools.lru_cache(maxsize=4)
def enlarged(garment: bytes, side: int, order: int) -> np.ndarray:
    """The 28 × 28 garment (its bytes) enlarged by a spline to `side` pixels, as coverage 0-1: kept for the next
    conditions of the same photo size, which most of the set's conditions share."""
    pixels = np.frombuffer(garment, dtype=np.uint8).reshape(28, 28).astype(np.float32) / 255.0
    return np.clip(ndimage.zoom(pixels, side / 28, order=order)[:side, :side], 0.0, 1.0)


def coverage(garment: np.ndarray, condition: dict, shape: tuple) -> tuple[np.ndarray, tuple, int]:
    """How much of each photo pixel the garment covers (0-1), enlarged by a spline, and where it lies."""
    height, width = shape
    side = max(1, round(min(height, width) / (1 + 2 * condition["margin"])))
    garment_cover = enlarged(np.ascontiguousarray(garment, dtype=np.uint8).tobytes(), side, condition["order"])
    top, left = (height - garment_cover.shape[0]) // 2, (width - garment_cover.shape[1]) // 2
    full = np.zeros(shape, dtype=np.float32)
    full[top : top + garment_cover.shape[0], left : left + garment_cover.shape[1]] = garment_cover
    return full, (top, left), side


COARSE = 4  # shadows are smooth: they are blurred on a grid this many times coarser, then enlarged


def smooth(coarse: np.ndarray, sigma: float, shape: tuple) -> np.ndarray:
    """A Gaussian blur of `sigma` photo pixels, computed on the coarse grid and enlarged back to `shape`."""
    blurred = ndimage.gaussian_filter(coarse.astype(np.float32), sigma / COARSE)
    enlarged = ndimage.zoom(blurred, COARSE, order=1)[: shape[0], : shape[1]]
    missing = (shape[0] - enlarged.shape[0], shape[1] - enlarged.shape[1])
    return np.pad(enlarged, ((0, missing[0]), (0, missing[1])), mode="edge")


def light(condition: dict, shape: tuple, cover: np.ndarray, side: int) -> np.ndarray:
    """The light that reaches each pixel: 1, less in the vignette, away from the spotlight and in shadows."""
    height, width = shape
    rows, columns = (axis.astype(np.float32) for axis in np.ogrid[0:height, 0:width])  # broadcast, not stored
    field = np.ones(shape, dtype=np.float32)
    if condition["vignette"]:
        centre_y, centre_x = condition["vignette_centre"][1] * height, condition["vignette_centre"][0] * width
        angle = np.arctan(np.hypot(rows - centre_y, columns - centre_x) / max(height, width))
        fall_off = np.cos(angle) ** 4
        field *= 1 - condition["vignette"] * (1 - fall_off) / (1 - np.cos(np.arctan(np.sqrt(2))) ** 4)
    if condition["spotlight"]:
        distance = np.hypot(rows / height, columns / width) / np.sqrt(2)
        field *= 1 - condition["spotlight"] * distance**2
    if condition["shadow"]:
        right, down, blur, darkness = condition["shadow"]
        moved = ndimage.shift(cover[::COARSE, ::COARSE], (down * side / COARSE, right * side / COARSE), order=1)
        field *= 1 - darkness * smooth(moved, blur * side, shape)
    if condition["contact_shadow"]:
        bottom = np.flatnonzero(cover.max(axis=1) > 0.2).max(initial=height // 2)
        middle = np.flatnonzero(cover.max(axis=0) > 0.2)
        centre_x = middle.mean() if len(middle) else width / 2
        ellipse = ((columns - centre_x) / (0.45 * side)) ** 2 + ((rows - bottom) / (0.06 * side)) ** 2 < 1
        field *= 1 - condition["contact_shadow"] * smooth(ellipse[::COARSE, ::COARSE], 0.03 * side, shape)
    return field


def background_reflectance(condition: dict, shape: tuple) -> np.ndarray:
    """The background's reflectance in linear light, with its sweep."""
    base = np.broadcast_to(to_linear(condition["background"]), (*shape, 3)).copy()
    if condition["sweep"]:
        direction, start, end = condition["sweep"]
        length = shape[0] if direction == "down" else shape[1]
        ramp = start + (end - start) * (1 - np.cos(np.linspace(0, np.pi, length, dtype=np.float32))) / 2
        level = to_linear(ramp)
        base[:] = level[:, None, None] if direction == "down" else level[None, :, None]
    return base


def photo_pixels(garment: np.ndarray, condition: dict, rng: np.random.Generator) -> np.ndarray:
    """The product photo of one 28 × 28 Fashion-MNIST image, as an RGB uint8 array (sRGB)."""
    longest, aspect = condition["size"], condition["aspect"]  # aspect: width over height
    shape = (longest, round(longest * aspect)) if aspect <= 1 else (round(longest / aspect), longest)
    cover, (top, left), side = coverage(garment, condition, shape)
    reflectance = background_reflectance(condition, shape)
    box = np.s_[top : top + side, left : left + side]  # the garment covers nothing outside its box
    own = np.empty_like(reflectance[box])
    own[:] = to_linear(condition["colour"])
    if condition["second_colour"] is not None:
        own[side // 2 :] = to_linear(condition["second_colour"])
    reflectance[box] += (own - reflectance[box]) * cover[box][..., None]
    photo = reflectance * light(condition, shape, cover, side)[..., None]
    if condition["defocus"]:
        radius = max(1, round(condition["defocus"] * side))
        y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        disc = (x**2 + y**2 <= radius**2).astype(np.float32)
        padded = np.pad(photo, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
        photo = signal.fftconvolve(padded, (disc / disc.sum())[..., np.newaxis], mode="valid", axes=(0, 1))
    photo += 0.002 * sensor_noise(photo.shape, rng)  # a little sensor noise, in linear light
    return to_srgb(photo)
