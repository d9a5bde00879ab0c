"""Robustness: the test split under label-preserving changes that shops' photos show (docs/robustness.md).

    python -m benchmarks.robustness [--images 10000] [--photo-images 1000] [--figure docs/robustness.png]

Each condition changes the 28 × 28 images (garment light on black, as Fashion-MNIST draws them), seeded per
condition and image. Every condition is measured twice: the changed 28 × 28 arrays through the exported TFLite
model, and each changed image rendered as a product photo (`benchmarks.photos`' default photo), JPEG-encoded,
and converted back by `fmnist.core.images`, the path of the API and the tagger. Per condition: the accuracy, its
standard error paired against the unchanged images, per-class accuracy, the share of images that fail an image
check, and the auto-tag rule at each target as the API applies it (`fmnist.core.review`: the share tagged
without review, and how many of those are right). `--split validation` measures the
notebook's validation split instead, for choosing a recipe; the test split gives the final figures only.
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
from PIL import Image
from scipy import ndimage

from benchmarks import photos
from benchmarks.machine import processor_name
from fmnist import CLASS_NAMES
from fmnist.core import images, inference, review
from fmnist.core.runtime import TFLiteClassifier

CENTRE = np.array([13.5, 13.5])


def affine(pictures, matrices):
    """Each picture resampled through its 2 × 2 matrix about the centre (output → input coordinates), bilinear,
    black outside the frame."""
    return np.stack(
        [
            ndimage.affine_transform(picture, matrix, CENTRE - matrix @ CENTRE, order=1, mode="constant")
            for picture, matrix in zip(pictures, matrices, strict=True)
        ]
    )


def signs(rng, count):
    """A random direction, −1 or +1, per image."""
    return rng.choice((-1.0, 1.0), count)


def tilt(pictures, rng, degrees):
    """Rotated by `degrees`, clockwise or anticlockwise at random."""
    angles = np.radians(degrees) * signs(rng, len(pictures))
    cos, sin = np.cos(angles), np.sin(angles)
    return affine(pictures, np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1))


def shear(pictures, rng, factor):
    """Sheared sideways: each row moved by `factor` × its distance from the centre row, either way at random."""
    factors = factor * signs(rng, len(pictures))
    return affine(pictures, [np.array([[1.0, 0.0], [f, 1.0]]) for f in factors])


def zoom(pictures, rng, factor):
    """Enlarged (`factor` > 1: the frame crops the garment) or reduced about the centre."""
    return affine(pictures, [np.eye(2) / factor] * len(pictures))


def defocus(pictures, rng, sigma):
    """A Gaussian blur of `sigma` pixels."""
    return ndimage.gaussian_filter(pictures, (0, sigma, sigma))


def motion(pictures, rng, length):
    """Camera shake: the mean of the picture moved along a line of `length` pixels at a random angle."""
    angles = rng.uniform(0, np.pi, len(pictures))
    steps = np.linspace(-(length - 1) / 2, (length - 1) / 2, length)
    return np.stack(
        [
            np.mean([ndimage.shift(picture, (s * np.sin(a), s * np.cos(a)), order=1) for s in steps], axis=0)
            for picture, a in zip(pictures, angles, strict=True)
        ]
    )


def noise(pictures, rng, sigma):
    """Sensor noise: Gaussian, of `sigma` (a share of the full range)."""
    return pictures + rng.normal(0, sigma, pictures.shape)


def jpeg(pictures, rng, quality):
    """Saved as a JPEG of `quality` and read back."""
    result = []
    for picture in pictures:
        buffer = io.BytesIO()
        Image.fromarray(to_8_bit(picture)).save(buffer, format="JPEG", quality=quality)
        result.append(np.asarray(Image.open(buffer), dtype=np.float32) / 255)
    return np.stack(result)


def exposure(pictures, rng, gain):
    """Every level multiplied by `gain` (under 1: under-exposed; over 1: over-exposed, clipped)."""
    return pictures * gain


def contrast(pictures, rng, kept):
    """Washed out: each level moved towards the picture's mean, keeping the share `kept` of its distance."""
    means = pictures.mean(axis=(1, 2), keepdims=True)
    return means + kept * (pictures - means)


def mirror(pictures, rng, _):
    """Mirrored left to right."""
    return pictures[:, :, ::-1]


# Written down in docs/robustness.md before any training change: {name: (change, setting)}.
CONDITIONS = {
    "mirrored": (mirror, None),
    **{f"tilted {d}°": (tilt, d) for d in (5, 10, 15)},
    **{f"sheared {s}": (shear, s) for s in (0.1, 0.2, 0.3)},
    **{f"zoomed in {z}× (cropped)": (zoom, z) for z in (1.15, 1.3)},
    **{f"zoomed out {z}×": (zoom, z) for z in (0.8, 0.6)},
    **{f"defocus σ {s} px": (defocus, s) for s in (0.5, 0.8, 1.2)},
    **{f"motion blur {n} px": (motion, n) for n in (3, 5)},
    **{f"sensor noise σ {s}": (noise, s) for s in (0.04, 0.08, 0.12)},
    **{f"JPEG quality {q}": (jpeg, q) for q in (50, 25, 15)},
    **{f"exposure ×{g}": (exposure, g) for g in (0.6, 0.4, 1.5)},
    **{f"contrast ×{c}": (contrast, c) for c in (0.7, 0.5)},
}


def to_8_bit(pictures):
    """Levels in [0, 1] to uint8, clipped and rounded, as an image file holds them."""
    return (np.clip(pictures, 0, 1) * 255).round().astype(np.uint8)


def changed(garments: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """The uint8 garments (n, 28, 28) under condition `name`, as uint8: the same for the same seed and name."""
    change, setting = CONDITIONS[name]
    rng = np.random.default_rng((seed, zlib.crc32(name.encode())))
    return to_8_bit(change(garments.astype(np.float32) / 255, rng, setting))


def photo_inputs(garments: np.ndarray, first: int, seed: int) -> np.ndarray:
    """Each garment rendered as the photo benchmark's default product photo, as JPEG, and converted back by
    `fmnist.core.images`: the model inputs that the API would compute. Noise seeded by the image's place in the run."""
    inputs = []
    for index, garment in enumerate(garments, start=first):
        pixels = photos.photo_pixels(garment, photos.DEFAULT, np.random.default_rng((seed, index)))
        inputs.append(images.decode(images.open_image(photos.encode(pixels, photos.DEFAULT["quality"]))))
    return np.stack(inputs)


def auto_tagging(probabilities, checks, labels, rules: dict) -> dict:
    """At each target's rule: the share of images tagged without review and the accuracy among them."""
    from fmnist.calibrate import tagged_alone

    right, margins = probabilities.argmax(axis=1) == labels, review.margin(probabilities)
    return {target: tagged_alone(~rule.needs_review(margins, checks), right) for target, rule in rules.items()}


def scores(answers, labels, unchanged_right, rules) -> dict:
    """A condition's accuracy, its paired standard error against the unchanged images, per class, the share
    that fails an image check, auto-tagging; `answers`: (probabilities, image checks)."""
    probabilities, checks = answers
    right = probabilities.argmax(axis=1) == labels
    difference = right.astype(float) - unchanged_right
    return {
        "accuracy": round(float(right.mean()), 4),
        "standard_error": round(float(difference.std(ddof=1) / np.sqrt(len(right))), 4),
        "per_class": {name: round(float(right[labels == k].mean()), 4) for k, name in enumerate(CLASS_NAMES)},
        "failed_image_checks": round(float(np.mean(np.asarray(checks) != review.PASSED)), 4),
        "auto_tagging": auto_tagging(probabilities, checks, labels, rules),
    }


WORKER = {}


def start_worker(model: str, limits: dict) -> None:
    WORKER["classifier"], WORKER["limits"] = TFLiteClassifier(model, num_threads=1), limits


def photo_answers(job) -> tuple[np.ndarray, list[str]]:
    """Probabilities and image checks of a block of garments through the photo path, in a worker process."""
    garments, first, seed = job
    pictures = photo_inputs(garments, first, seed)
    return WORKER["classifier"](pictures)[1], review.image_checks(pictures, WORKER["limits"])


def measure(garments, labels, arguments, rules) -> dict:
    """Every condition on the 28 × 28 path (all images) and on the photo path (the first `--photo-images`)."""
    classifier = TFLiteClassifier(arguments.model, num_threads=2)
    limits = rules[inference.DEFAULT_TARGET].limits  # the notebook fits one set for every target
    pictures = {"unchanged": garments} | {name: changed(garments, name, arguments.seed) for name in CONDITIONS}
    native = {}
    for name, garments_changed in pictures.items():
        inputs = garments_changed[..., None].astype(np.float32) / 255
        native[name] = classifier(inputs)[1], review.image_checks(inputs, limits)
    count, block = arguments.photo_images, 250
    jobs = [
        (p[f : min(f + block, count)], f, arguments.seed) for p in pictures.values() for f in range(0, count, block)
    ]
    context = multiprocessing.get_context("spawn")
    worker = {"initializer": start_worker, "initargs": (arguments.model, limits)}
    with ProcessPoolExecutor(arguments.workers, context, **worker) as pool:
        blocks = list(pool.map(photo_answers, jobs))
    per_condition = len(jobs) // len(pictures)
    photo = {}
    for i, name in enumerate(pictures):
        probabilities, checks = zip(*blocks[i * per_condition : (i + 1) * per_condition], strict=True)
        photo[name] = np.concatenate(probabilities), [check for block in checks for check in block]
    results = {}
    for path, answers, kept in (("28x28", native, labels), ("photo", photo, labels[:count])):
        unchanged_right = answers["unchanged"][0].argmax(axis=1) == kept
        results[path] = {name: scores(a, kept, unchanged_right, rules) for name, a in answers.items()}
    return results


def summary(results: dict) -> dict:
    """Per path: the mean accuracy over the conditions, the worst condition, and the worst auto-tag accuracy."""
    report = {}
    for path, conditions in results.items():
        changes = {name: result for name, result in conditions.items() if name != "unchanged"}
        worst = min(changes, key=lambda name: changes[name]["accuracy"])
        tagged = {
            target: min(
                r["auto_tagging"][target]["accuracy"]
                for r in conditions.values()
                if r["auto_tagging"][target]["accuracy"] is not None
            )
            for target in conditions["unchanged"]["auto_tagging"]
        }
        report[path] = {
            "mean_accuracy": round(float(np.mean([r["accuracy"] for r in changes.values()])), 4),
            "worst_condition": worst,
            "worst_accuracy": changes[worst]["accuracy"],
            "worst_auto_tag_accuracy": tagged,
        }
    return report


def figure(garment: np.ndarray, path: Path) -> None:
    """One test image in every condition."""
    import matplotlib.pyplot as plt

    names = ["unchanged", *CONDITIONS]
    columns = 8
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.3 * rows))
    for axis in axes.flat[len(names) :]:
        axis.axis("off")
    for axis, name in zip(axes.flat[: len(names)], names, strict=True):
        picture = garment if name == "unchanged" else changed(garment[None], name)[0]
        axis.imshow(picture, cmap="gray", vmin=0, vmax=255)
        axis.set_title(name, fontsize=10)
        axis.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100, facecolor="white")
    print("wrote", path)


def print_results(results: dict) -> None:
    """Each path's conditions: accuracy, its paired standard error, and the auto-tag rule at the 99 % target."""
    for path, conditions in results.items():
        print(f"{path}:")
        for name, result in conditions.items():
            tags = result["auto_tagging"]["0.99"]
            print(
                f"  {name:<26} {result['accuracy']:.4f} ± {result['standard_error']:.4f}   "
                f"tagged alone at 99 %: {tags['coverage']:.0%}, right {tags['accuracy'] or 0:.1%}"
            )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="test images on the 28 × 28 path")
    parser.add_argument("--photo-images", type=int, default=1000, help="the first N of them on the photo path")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--model", default="models/fashion_cnn.tflite")
    parser.add_argument("--thresholds", default=str(inference.DEFAULT_REVIEW))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--output", help="default: reports/robustness.json for the whole test split")
    parser.add_argument("--figure", type=Path, help="also draw one test image in every condition")
    arguments = parser.parse_args(argv)
    if arguments.photo_images > arguments.images:
        parser.error("--photo-images is a part of --images")

    garments, labels = photos.split_images(arguments.split)
    chosen = np.random.default_rng(arguments.seed).permutation(len(garments))[: arguments.images]
    garments, labels = garments[chosen], labels[chosen]
    if arguments.figure:
        figure(garments[0], arguments.figure)
    from fmnist.calibrate import REVIEW_TARGETS

    rules = {str(target): review.load_review_rule(arguments.thresholds, str(target)) for target in REVIEW_TARGETS}
    start = time.perf_counter()
    results = measure(garments, labels, arguments, rules)
    report = {
        "split": arguments.split,
        "images": arguments.images,
        "photo_images": arguments.photo_images,
        "model": Path(arguments.model).name,
        "image_limits": dict(rules[inference.DEFAULT_TARGET].limits),
        "processor": processor_name(),
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "summary": summary(results),
        "conditions": results,
    }
    print_results(results)
    print(json.dumps(report["summary"], indent=1))
    whole = arguments.split == "test" and arguments.images == 10_000
    photos.save_report(report, arguments.output, "reports/robustness.json" if whole else None)


if __name__ == "__main__":
    main()
