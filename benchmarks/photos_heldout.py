"""The held-out set's renderer: product photos made another way than `benchmarks/photos.py` makes them.

Written apart from the first renderer (docs/photos.md, "The next benchmark's two sets"): it works in linear
light, not in 8-bit gray levels. The garment is a surface whose reflectance goes from the background's to its
own colour as the Fashion-MNIST image says; the light falls on garment and background alike and is what the
vignette, the spotlight and the shadows change; the lens blurs in linear light; and only then is the photo
encoded to sRGB. The enlargement is SciPy's spline interpolation (`ndimage.zoom`), not Pillow's filters.
No conversion setting may be chosen on these conditions: they are measured once, on the test split, at the end.
"""

import numpy as np
from scipy import ndimage, signal

DEFAULT = {
    "size": 720,  # the photo's longest side
    "aspect": 1.0,
    "margin": 0.3,  # on each side of the garment, in fractions of its size
    "order": 3,  # the spline's order for the enlargement: 3 cubic, 1 linear
    "background": (244, 244, 242),  # sRGB
    "colour": (30, 30, 30),  # the garment's own colour, sRGB, where the Fashion-MNIST image is brightest
    "second_colour": None,  # the lower half of the garment in another colour
    "sweep": None,  # (direction, top or left level, bottom or right level): "down" or "across", cosine-shaped
    "vignette": 0.0,  # how much less light the corners get (cos⁴ fall-off), centred at `vignette_centre`
    "vignette_centre": (0.5, 0.5),
    "spotlight": 0.0,  # how much less light falls away from the top-left corner, smoothly
    "shadow": None,  # a drop shadow: (right, down, blur) in fractions of the garment's side, and its darkness
    "contact_shadow": 0.0,  # the darkness of an ellipse of shadow under the garment
    "defocus": 0.0,  # a disc (pillbox) blur's radius, in fractions of the garment's side
    "quality": 88,  # JPEG
}
CONDITIONS = {
    "cubic spline enlargement": {"size": 700},
    "linear spline enlargement": {"order": 1, "size": 700},
    "disc defocus, 3 %": {"defocus": 0.03},
    "drop shadow down and left": {"shadow": (-0.05, 0.05, 0.06, 0.45)},
    "contact shadow": {"contact_shadow": 0.5},
    "grey background (180) with a shadow": {"background": (180, 180, 180), "shadow": (-0.05, 0.05, 0.06, 0.45)},
    "cosine sweep, darker at the top": {"sweep": ("down", 170, 255)},
    "side sweep": {"sweep": ("across", 255, 185)},
    "vignette cos⁴, off the garment": {"vignette": 0.45, "vignette_centre": (0.35, 0.3)},
    "spotlight from the top left": {"spotlight": 0.35},
    "burgundy garment": {"colour": (120, 20, 40)},
    "mustard garment": {"colour": (210, 170, 40)},
    "teal garment": {"colour": (20, 110, 120)},
    "two colours": {"colour": (20, 40, 120), "second_colour": (200, 200, 190)},
    "sweep, shadow and colour": {
        "sweep": ("down", 255, 200),
        "shadow": (0.04, 0.04, 0.05, 0.35),
        "colour": (150, 40, 40),
    },
}


def to_linear(srgb) -> np.ndarray:
    """sRGB levels 0-255 to linear light 0-1."""
    value = np.asarray(srgb, dtype=np.float32) / 255.0
    return np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light 0-1 to sRGB levels, uint8."""
    value = np.clip(linear, 0.0, 1.0)
    encoded = np.where(value <= 0.0031308, value * 12.92, 1.055 * value ** (1 / 2.4) - 0.055)
    return np.clip(encoded * 255.0, 0, 255).round().astype(np.uint8)


def coverage(garment: np.ndarray, condition: dict, shape: tuple) -> tuple[np.ndarray, tuple, int]:
    """How much of each photo pixel the garment covers (0-1), enlarged by a spline, and where it lies."""
    height, width = shape
    side = max(1, round(min(height, width) / (1 + 2 * condition["margin"])))
    enlarged = ndimage.zoom(garment.astype(np.float32) / 255.0, side / garment.shape[0], order=condition["order"])
    enlarged = np.clip(enlarged[:side, :side], 0.0, 1.0)
    top, left = (height - enlarged.shape[0]) // 2, (width - enlarged.shape[1]) // 2
    full = np.zeros(shape, dtype=np.float32)
    full[top : top + enlarged.shape[0], left : left + enlarged.shape[1]] = enlarged
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
    photo += 0.002 * rng.standard_normal(photo.shape, dtype=np.float32)  # a little sensor noise, in linear light
    return to_srgb(photo)
