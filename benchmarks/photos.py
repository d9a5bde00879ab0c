"""Product-photo benchmark: Fashion-MNIST images rendered as a shop's photos, classified through the API's path.

The renderer turns each 28 × 28 image (light garment on black) back into a product photo: the garment dark
on a light background (or light on a dark one), enlarged with a Lanczos filter, with margins around it,
placed centred or off-centre on a canvas of some aspect ratio and size, with a plain, noisy or textured
background, and saved as JPEG or PNG. Each photo then goes through `fmnist.core.images` (the API's decoding and
Fashion-MNIST's conversion) and the exported TFLite model. Every condition changes one thing from the
default photo (margins of 25 %, centred, white, square, 800 px, JPEG quality 90), and its accuracy is
reported next to the native 28 × 28 accuracy of the same images.

usage: python -m benchmarks.photos [--images 5000] [--split test|validation] [--set tuning|held-out]
                                   [--conditions NAME ...] [--workers N] [--steps-figure docs/photo_steps.png]
Tune on `--split validation` (the tuning set, and a few `--conditions`). The report, reports/photo_benchmark.json,
is made on the test split, once, with both sets: the tuning set and the held-out set of a second renderer
(`benchmarks/photos_heldout.py`), which is measured on the test split only. Blocks of garments, each in every
condition of its set, run in parallel in worker processes (`--workers`, default one per core).
"""

import argparse
import io
import json
import multiprocessing
import os
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from benchmarks import photos_heldout
from benchmarks.machine import processor_name
from fmnist import data
from fmnist.core import images
from fmnist.core.runtime import TFLiteClassifier

DEFAULT = {
    "margin": 0.25,
    "place": (0.5, 0.5),
    "background": 255,
    "texture": None,
    "aspect": 1.0,
    "size": 800,
    "quality": 90,
    "filter": "lanczos",  # the enlargement's resampling filter
    "colour": None,  # the garment's colour on a light background (RGB); None: black, shaded by the image
    "shadow": None,  # a drop shadow: (right, down, blur) in fractions of the garment's side, and its darkness
    "sweep": None,  # the background's level at the top and at the bottom, in between linear
    "vignette": 0.0,  # how much darker the corners are, the fall-off quadratic in the distance from the centre
    "light": None,  # the light over the whole photo, garment included, on the left and on the right
    "defocus": 0.0,  # a Gaussian blur of the whole photo, in fractions of the garment's side
    "second_colour": None,  # the lower half of the garment in another colour (RGB)
    "linear": False,  # blend, light and blur in linear light, then encode to sRGB; else in the photo's levels
}
CONDITIONS = {
    **{f"margin {m:.0%}": {"margin": m} for m in (0.0, 0.1, 0.25, 0.5, 1.0)},
    "off-centre, left and low": {"place": (0.1, 0.85)},
    "off-centre, right and high": {"place": (0.95, 0.05)},
    "off-white background (235)": {"background": 235},
    "light grey background (200)": {"background": 200},
    "beige background": {"background": (245, 232, 210)},
    "dark background (25), light garment": {"background": 25},
    "sensor noise, sd 4": {"texture": ("noise", 4)},
    "sensor noise, sd 10": {"texture": ("noise", 10)},
    "fabric texture": {"texture": ("fabric", 12)},
    "portrait 3:4": {"aspect": 0.75},
    "landscape 4:3": {"aspect": 4 / 3},
    "wide 16:9": {"aspect": 16 / 9},
    "tall 1:2": {"aspect": 0.5},
    **{f"{size} px": {"size": size} for size in (200, 500, 1000, 2000)},
    "JPEG quality 50": {"quality": 50},
    "JPEG quality 75": {"quality": 75},
    "PNG": {"quality": None},
}
GENERAL_KINDS = list(CONDITIONS)  # framing, background, noise, texture, shape, size and format; shops' kinds follow
# The kinds that shops' photos add (docs/photos.md: the tuning set, written before the conversion changed).
SHADOW = (0.03, 0.03, 0.03, 0.3)
CONDITIONS |= {
    "enlarged bilinear": {"filter": "bilinear"},
    "enlarged nearest-neighbour": {"filter": "nearest"},
    "defocus, 1.5 %": {"defocus": 0.015},
    "drop shadow": {"shadow": SHADOW},
    "grey background (200) with a drop shadow": {"background": 200, "shadow": SHADOW},
    "studio sweep, 255 to 200": {"sweep": (255, 200)},
    "vignette, corners 30 % darker": {"vignette": 0.3},
    "uneven light, 100 % to 80 %": {"light": (1.0, 0.8)},
    "red garment": {"colour": (200, 30, 30)},
    "navy garment": {"colour": (20, 30, 90)},
    "green garment": {"colour": (30, 120, 60)},
}
TWO_COLOURS = {"colour": (0, 0, 0), "second_colour": (210, 190, 160)}
# The second round's kinds (docs/photos.md, "The second round"): linear light, and a garment in two colours.
CONDITIONS |= {
    "linear light": {"linear": True},
    "linear light, navy garment": {"linear": True, "colour": (20, 30, 90)},
    "linear light, red garment": {"linear": True, "colour": (200, 30, 30)},
    "linear light, studio sweep": {"linear": True, "sweep": (255, 200)},
    "linear light, drop shadow": {"linear": True, "shadow": SHADOW},
    "linear light, defocus 1.5 %": {"linear": True, "defocus": 0.015},
    "two colours": TWO_COLOURS,
    "two colours, linear light": {**TWO_COLOURS, "linear": True},
}


def photo_pixels(garment: np.ndarray, condition: dict, rng: np.random.Generator) -> np.ndarray:
    """The product photo of one 28 × 28 Fashion-MNIST image, as an RGB uint8 array."""
    background = np.broadcast_to(np.asarray(condition["background"], dtype=np.float32), (3,))
    light = background.mean() > 127
    coloured = condition["colour"] is not None and light
    # A gray photo is rendered in one channel, three times faster, and copied to three at the end.
    channels = 3 if coloured or len(set(background.tolist())) > 1 else 1
    short = round(condition["size"] * min(condition["aspect"], 1 / condition["aspect"]))
    side = max(1, round(short / (1 + 2 * condition["margin"])))  # the 28 × 28 frame, enlarged
    resampling = Image.Resampling[condition["filter"].upper()]
    enlarged = Image.fromarray(garment).resize((side, side), resampling)
    intensity = np.asarray(enlarged, dtype=np.float32)[..., None] / 255.0
    width = condition["size"] if condition["aspect"] >= 1 else short
    height = short if condition["aspect"] >= 1 else condition["size"]
    canvas = np.empty((height, width, channels), dtype=np.float32)
    canvas[:] = background[:channels]
    if condition["sweep"]:
        canvas[:] = np.linspace(*condition["sweep"], height, dtype=np.float32)[:, None, None]
    top = round((height - side) * condition["place"][1])
    left = round((width - side) * condition["place"][0])
    if condition["linear"]:
        canvas = photos_heldout.to_linear(canvas) * 255
    if condition["shadow"]:
        canvas *= 1 - shadow(intensity[..., 0], condition["shadow"], (height, width), (top, left))[..., None]
    target = 0.0 if light else 255.0  # the garment darkens a light background, lightens a dark one
    if coloured:
        target = np.empty((side, 1, 3), dtype=np.float32)  # by row: the lower half may have a colour of its own
        target[:] = condition["colour"]
        if condition["second_colour"] is not None:
            target[side // 2 :] = condition["second_colour"]
    if condition["linear"]:
        target = photos_heldout.to_linear(target) * 255
    region = canvas[top : top + side, left : left + side]
    region += (target - region) * intensity
    canvas *= illumination(condition, (height, width))[..., None]
    if condition["defocus"] and condition["linear"]:  # in floats: 8 bits of linear light lose the dark levels
        canvas = ndimage.gaussian_filter(canvas, (condition["defocus"] * side,) * 2 + (0,))
    elif condition["defocus"]:
        blurred = Image.fromarray(
            np.clip(canvas, 0, 255).round().astype(np.uint8).squeeze(axis=2 if channels == 1 else ())
        )
        blurred = blurred.filter(ImageFilter.GaussianBlur(condition["defocus"] * side))
        canvas = np.asarray(blurred, np.float32).reshape(height, width, channels)
    if condition["texture"]:
        canvas += texture(condition["texture"], (height, width), rng)[..., None]
    if condition["linear"]:
        pixels = photos_heldout.to_srgb(canvas / 255)
    else:
        pixels = np.clip(canvas, 0, 255).round().astype(np.uint8)
    return np.repeat(pixels, 3, axis=2) if channels == 1 else pixels


def shadow(alpha: np.ndarray, spec: tuple, shape: tuple, corner: tuple) -> np.ndarray:
    """How much a drop shadow darkens each pixel: the garment's silhouette moved by (right, down), blurred."""
    right, down, blur, darkness = spec
    side = alpha.shape[0]
    mask = np.zeros(shape, dtype=np.float32)
    top, left = corner[0] + round(down * side), corner[1] + round(right * side)
    rows, columns = slice(max(top, 0), min(top + side, shape[0])), slice(max(left, 0), min(left + side, shape[1]))
    mask[rows, columns] = alpha[rows.start - top : rows.stop - top, columns.start - left : columns.stop - left]
    blurred = Image.fromarray((mask * 255).round().astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur * side))
    return darkness * np.asarray(blurred, dtype=np.float32) / 255


def illumination(condition: dict, shape: tuple) -> np.ndarray:
    """The light over the photo, broadcast to `shape`: 1 everywhere, less towards the corners (vignette) or to
    one side; an open grid, so that a photo with neither costs nothing."""
    rows, columns = (axis.astype(np.float32) for axis in np.ogrid[0 : shape[0], 0 : shape[1]])
    light = np.ones((1, 1), dtype=np.float32)
    if condition["vignette"]:
        distance = ((rows - shape[0] / 2) / (shape[0] / 2)) ** 2 + ((columns - shape[1] / 2) / (shape[1] / 2)) ** 2
        light = light * (1 - condition["vignette"] * distance / 2)  # the corners lie at distance 2
    if condition["light"]:
        left, right = condition["light"]
        light = light * (left + (right - left) * columns / max(shape[1] - 1, 1))
    return light


def texture(kind: tuple, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (independent per pixel) or a fabric-like texture (noise blurred to a weave of a few pixels)."""
    name, amplitude = kind
    noise = rng.normal(0, amplitude, shape).astype(np.float32)
    if name == "noise":
        return noise
    blurred = Image.fromarray(np.clip(noise * 4 + 128, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    weave = np.asarray(blurred, dtype=np.float32) - 128
    return weave * amplitude / max(float(weave.std()), 1e-6)


def encode(pixels: np.ndarray, quality) -> bytes:
    """The photo as a JPEG file of `quality`, or as PNG when `quality` is None."""
    buffer = io.BytesIO()
    if quality is None:
        Image.fromarray(pixels).save(buffer, format="PNG")
    else:
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def correct(classifier, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Whether `classifier` labels each of `inputs` (model inputs, n × 28 × 28 × 1) right."""
    _, probabilities = classifier(inputs)
    return probabilities.argmax(axis=1) == labels


BLOCK = 250  # photos per job: enough jobs for the workers to share the run evenly


def run_block(classifier, garments, labels, conditions: dict, first: int, seed: int, render) -> dict:
    """Render each garment as a photo of every one of `conditions` with `render`, decode it as the API does and
    classify it: {condition: (whether each was right, seconds)}. Garment by garment, so that the renderer may keep
    what a garment's conditions share; each photo's noise is seeded by the condition's name and the image's
    place in the run (`first` is the block's), whatever the blocks and the other conditions."""
    inputs, seconds = {name: [] for name in conditions}, dict.fromkeys(conditions, 0.0)
    for index, garment in enumerate(garments, start=first):
        for name, condition in conditions.items():
            rng = np.random.default_rng((seed, zlib.crc32(name.encode()), index))
            start = time.perf_counter()
            photo = encode(render(garment, condition, rng), condition["quality"])
            inputs[name].append(images.decode(images.open_image(photo)))
            seconds[name] += time.perf_counter() - start
    return {name: (correct(classifier, np.stack(inputs[name]), labels), seconds[name]) for name in conditions}


def condition_result(right: np.ndarray, native: np.ndarray, seconds: float) -> dict:
    """A condition's accuracy, its standard error against `native` (which images were right at 28 × 28: the
    difference is paired), and its time per photo."""
    difference = right.astype(float) - native
    return {
        "accuracy": round(float(right.mean()), 4),
        "standard_error": round(float(difference.std(ddof=1) / np.sqrt(len(difference))), 4),
        "ms_per_photo": round(1000 * seconds / len(right), 2),
    }


WORKER = {}  # each worker process's own classifier, one thread: the workers run the blocks in parallel


def start_worker(model: str) -> None:
    """Load the classifier once in each worker process."""
    WORKER["classifier"] = TFLiteClassifier(model, num_threads=1)


def block_in_worker(job: tuple) -> dict:
    """`run_block` in a worker process, with its classifier and the renderer of the job's set."""
    *arguments, photo_set = job
    return run_block(WORKER["classifier"], *arguments, SETS[photo_set][2])


def save_photo(folder, index: int, garment: np.ndarray, condition: dict | None = None) -> None:
    """Photo `index` of `folder`: the garment as a 28 × 28 PNG, or rendered as a photo of `condition` (its
    noise seeded by `index`) and saved as JPEG."""
    if condition is None:
        Path(folder, f"{index:05d}.png").write_bytes(encode(garment, None))
        return
    pixels = photo_pixels(garment, condition, np.random.default_rng(index))
    Path(folder, f"{index:05d}.jpg").write_bytes(encode(pixels, condition["quality"]))


def tagging_throughput(garments: np.ndarray, model: Path, count: int) -> dict:
    """`python -m fmnist.tag`'s images per second on a folder of 28 × 28 PNGs and on one of 1,000 px JPEGs."""
    import tempfile

    from fmnist.core.review import ReviewRule
    from fmnist.tag import local

    throughput = {}
    kinds = {"28x28_png": (count, None), "1000px_jpeg": (count // 10, {**DEFAULT, "size": 1000})}
    for kind, (number, condition) in kinds.items():
        with tempfile.TemporaryDirectory() as folder:
            for index, garment in enumerate(garments[:number]):
                save_photo(folder, index, garment, condition)
            start = time.perf_counter()
            rows, _ = local.tag(Path(folder), Path(folder) / "tags.csv", model, ReviewRule(0.5), progress=False)
            seconds = time.perf_counter() - start
        throughput[kind] = {"images": len(rows), "images_per_s": round(len(rows) / seconds)}
        print(f"fmnist.tag, {kind}: {throughput[kind]['images_per_s']:,} images/s ({len(rows)} images)")
    return throughput


def steps_figure(garment: np.ndarray, path: Path) -> None:
    """docs/photo_steps.png: one rendered photo under uneven light, at each step of `fmnist.core.images`' conversion."""
    import matplotlib.pyplot as plt

    condition = {**DEFAULT, **CONDITIONS["uneven light, 100 % to 80 %"], "vignette": 0.3, "colour": (20, 30, 90)}
    photo = photo_pixels(garment, {**condition, "place": (0.3, 0.6), "aspect": 0.75}, np.random.default_rng(0))
    decoded = images.open_image(encode(photo, 90))
    decoded.draft(decoded.mode, (images.DRAFT_SIZE, images.DRAFT_SIZE))  # as images.decode reads a JPEG
    working = images.working_copy(np.asarray(decoded.convert("RGB")))
    surface = images.background_surface(working)
    negated = images.garment_intensity(working, surface)
    negated = images.denoise(negated, images.background_texture(negated))
    left, top, right, bottom = box = images.trim(negated, images.background_texture(negated))
    resized = images.resize_longest_edge(negated, box)
    steps = {
        f"product photo\n{photo.shape[1]}×{photo.shape[0]}, JPEG": photo,
        f"reduced to\n{working.shape[1]}×{working.shape[0]}": working,
        "the background: a smooth\nsurface fitted to the border": surface.round().astype(np.uint8),
        "negated: each pixel's\ndarkening against it, blurred": negated,
        f"trimmed to the garment\n{right - left:.1f}×{bottom - top:.1f}": negated[
            round(top) : round(bottom), round(left) : round(right)
        ],
        f"longest edge to 28\n{resized.width}×{resized.height}": np.asarray(resized),
        "sharpened, centred\n28×28: the model's input": images.centre(images.sharpen(resized)),
        "the Fashion-MNIST\nimage it came from": garment,
    }
    figure, axes = plt.subplots(1, len(steps), figsize=(2.2 * len(steps), 2.9))
    for axis, (title, picture) in zip(axes, steps.items(), strict=True):
        axis.imshow(picture, cmap=None if picture.ndim == 3 else "gray", vmin=0, vmax=255)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=120, facecolor="white")
    print("wrote", path)


def split_images(split: str):
    """The 28 × 28 garments and labels of the test split, or of the notebook's validation split as the committed
    run recorded it."""
    (train_images, train_labels), (test_images, test_labels) = data.load_data()
    if split == "test":
        return test_images, test_labels
    recipe = json.loads(Path("reports/metrics.json").read_text())["recipe"]
    _, validation = data.split_validation(train_images, train_labels, recipe["validation_size"], recipe["seed"])
    return validation


# Each set's default photo, its conditions (each a change from that default) and its renderer.
SETS = {
    "tuning": (DEFAULT, CONDITIONS, photo_pixels),
    "held-out": (photos_heldout.DEFAULT, photos_heldout.CONDITIONS, photos_heldout.photo_pixels),
}


def measure(arguments, sets: dict, garments, labels, native_right) -> dict:
    """Each named condition of each set rendered with its set's renderer and classified, in blocks of `BLOCK`
    garments, all in one pool of worker processes: {set: {condition: result}}."""
    conditions = {s: {name: {**SETS[s][0], **SETS[s][1][name]} for name in names} for s, names in sets.items()}
    blocks = [(s, first) for s in sets for first in range(0, len(garments), BLOCK)]
    jobs = [(garments[f : f + BLOCK], labels[f : f + BLOCK], conditions[s], f, arguments.seed, s) for s, f in blocks]
    context = multiprocessing.get_context("spawn")  # no fork of a process whose interpreter runs threads
    with ProcessPoolExecutor(arguments.workers, context, initializer=start_worker, initargs=(arguments.model,)) as pool:
        results = list(pool.map(block_in_worker, jobs))
    measured = {}
    for photo_set, names in sets.items():
        done = [result for (s, _), result in zip(blocks, results, strict=True) if s == photo_set]
        measured[photo_set] = {
            name: {
                **SETS[photo_set][1][name],
                **condition_result(
                    np.concatenate([block[name][0] for block in done]),
                    native_right,
                    sum(block[name][1] for block in done),
                ),
            }
            for name in names
        }
    return measured


def chosen_sets(parser, arguments) -> dict:
    """{set: condition names} that this run measures; the held-out set on the test split only."""
    default = ["tuning", "held-out"] if arguments.split == "test" else ["tuning"]
    photo_sets = [arguments.set] if arguments.set else default
    if "held-out" in photo_sets and arguments.split != "test":
        parser.error("the held-out set is measured on the test split only, once, at the end: no choice may look at it")
    if arguments.conditions and len(photo_sets) > 1:
        parser.error("--conditions names the conditions of one set: add --set")
    for photo_set in photo_sets:
        unknown = sorted(set(arguments.conditions or ()) - set(SETS[photo_set][1]))
        if unknown:
            parser.error(f"no such condition in the {photo_set} set: {', '.join(unknown)}")
    return {photo_set: arguments.conditions or list(SETS[photo_set][1]) for photo_set in photo_sets}


def set_report(photo_set: str, results: dict, native: float) -> dict:
    """One set's part of the report, printed as well: its conditions, largest and mean drop from native."""
    print(f"{photo_set} set:")
    for name, result in results.items():
        gap, error, milliseconds = result["accuracy"] - native, result["standard_error"], result["ms_per_photo"]
        print(f"  {name:<42} {result['accuracy']:.4f} ({gap:+.4f} ± {error:.4f}) {milliseconds:.1f} ms/photo")
    gaps = [result["accuracy"] - native for result in results.values()]
    print(f"  largest drop {-min(gaps):.4f}, mean drop {-float(np.mean(gaps)):.4f}")
    return {
        "renderer": SETS[photo_set][2].__module__,
        "default_photo": dict(SETS[photo_set][0]),
        "conditions": results,
        "largest_drop": round(-min(gaps), 4),
        "mean_drop": round(-float(np.mean(gaps)), 4),
    }


def save_report(report: dict, output: str | None, committed: str | None) -> None:
    """Write `report` as JSON to `output`, else to `committed`: the committed report's path where the run
    measured all that it holds, None for a partial run, which then writes nothing."""
    output = output or committed
    if output:
        Path(output).write_text(json.dumps(report, indent=2) + "\n")
        print("wrote", output)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--model", default="models/fashion_cnn.tflite")
    parser.add_argument("--output", default=None, help="default: reports/photo_benchmark.json for the test split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps-figure", type=Path, help="also draw one photo at each step of the conversion")
    parser.add_argument("--set", choices=SETS, help="default: both on the test split, tuning on validation")
    parser.add_argument("--conditions", nargs="+", metavar="NAME", help="default: all of the set's")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="worker processes")
    arguments = parser.parse_args(argv)

    sets = chosen_sets(parser, arguments)
    garments, labels = split_images(arguments.split)
    chosen = np.random.default_rng(arguments.seed).choice(len(garments), max(arguments.images, 2000), replace=False)
    all_garments = garments[chosen]
    chosen = chosen[: arguments.images]
    garments, labels = garments[chosen], labels[chosen]
    if arguments.steps_figure:
        steps_figure(garments[0], arguments.steps_figure)
    classifier = TFLiteClassifier(arguments.model, num_threads=2)
    native_right = correct(classifier, garments[..., None].astype(np.float32) / 255.0, labels)
    native = float(native_right.mean())
    print(f"native 28 × 28: {native:.4f}")
    start = time.perf_counter()
    measured = measure(arguments, sets, garments, labels, native_right)
    minutes = (time.perf_counter() - start) / 60
    report_sets = {photo_set: set_report(photo_set, results, native) for photo_set, results in measured.items()}
    print(f"{minutes:.1f} minutes for the conditions, {arguments.workers} workers")
    tagging = tagging_throughput(all_garments, Path(arguments.model), 2000) if arguments.split == "test" else None
    report = {
        "split": arguments.split,
        "images": arguments.images,
        "model": Path(arguments.model).name,
        "processor": processor_name(),
        "workers": arguments.workers,
        "minutes": round(minutes, 1),
        "native_accuracy": round(native, 4),
        "sets": report_sets,
        "tagging": tagging,
    }
    whole = arguments.split == "test" and not arguments.set and not arguments.conditions
    save_report(report, arguments.output, "reports/photo_benchmark.json" if whole else None)


if __name__ == "__main__":
    main()
