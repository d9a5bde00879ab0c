"""A shop's own categories, in colour: rendered product photos, a model trained on them, and the 28 × 28 model.

    python -m benchmarks.own_photos [--per-category 1000] [--sizes 100 250 500] [--epochs 30] [--photos CSV]

Fashion-MNIST garments are rendered as product photos (the photo benchmark's renderer, `benchmarks.photos`):
a coloured garment on a light background of varied colour, framing and size (160 to 320 px), as JPEG. The
five categories a shop might use merge Fashion-MNIST's classes: tops, bottoms, dresses, shoes and bags.
Training and validation photos come from Fashion-MNIST's training split, the test photos from its test split,
so that the 28 × 28 model, which never saw those garments either, compares fairly; a CSV says which part each
photo is in (`fmnist.train_photos`). The benchmark trains at 64 × 64 in colour on all photos, then on fewer per
category (the same validation and test photos), tags the test photos with `fmnist.tag`, and runs the 28 × 28
model through today's conversion on the same photos, each of its ten classes counted as its category.
It writes reports/own_photos_benchmark.json.
"""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import photos
from benchmarks.machine import processor_name

REPORT = Path(__file__).resolve().parent.parent / "reports" / "own_photos_benchmark.json"
# each category: the Fashion-MNIST classes it merges
CATEGORIES = {"tops": (0, 2, 4, 6), "bottoms": (1,), "dresses": (3,), "shoes": (5, 7, 9), "bags": (8,)}
SHARE_HELD = 0.2  # validation and test photos per category, as a share of the training photos


def random_condition(rng: np.random.Generator) -> dict:
    """A product photo's look: the garment's colour (or black), a light background, framing, size and format."""
    colour = tuple(int(v) for v in rng.integers(0, 200, 3)) if rng.random() < 0.8 else None
    background = tuple(int(v) for v in rng.integers(215, 256, 3)) if rng.random() < 0.7 else 255
    return photos.DEFAULT | {
        "colour": colour,
        "background": background,
        "margin": float(rng.uniform(0.05, 0.4)),
        "place": tuple(float(v) for v in rng.uniform(0.3, 0.7, 2)),
        "size": int(rng.choice([160, 240, 320])),
        "aspect": float(rng.choice([1.0, 0.75, 4 / 3])),
        "quality": 85,
    }


def garments_of(labels: np.ndarray, count: int, rng: np.random.Generator, taken: set) -> dict[str, np.ndarray]:
    """Per category, `count` indices of images of its classes, drawn without replacement and outside `taken`."""
    chosen = {}
    for category, classes in CATEGORIES.items():
        pool = np.setdiff1d(np.flatnonzero(np.isin(labels, classes)), list(taken))
        chosen[category] = rng.choice(pool, count, replace=False)
        taken.update(chosen[category].tolist())
    return chosen


def render(folder, per_category: int, seed: int = 0) -> Path:
    """Render the labelled photos under `folder` (one folder per category) and return the CSV of
    `path,label,part` rows: `per_category` training photos a category, `SHARE_HELD` of that for validation and
    for test (at least 2 each)."""
    from fmnist import data

    (train_images, train_labels), (test_images, test_labels) = data.load_data()
    rng, held = np.random.default_rng(seed), max(2, round(SHARE_HELD * per_category))
    taken = set()
    plan = {
        "train": (train_images, garments_of(train_labels, per_category, rng, taken)),
        "validation": (train_images, garments_of(train_labels, held, rng, taken)),
        "test": (test_images, garments_of(test_labels, held, rng, set())),
    }
    folder = Path(folder)
    rows = []
    for part, (garments, chosen) in plan.items():
        for category, indices in chosen.items():
            (folder / category).mkdir(parents=True, exist_ok=True)
            for index in indices:
                condition = random_condition(rng)
                name = Path(category, f"{part}-{index:05d}.jpg")
                pixels = photos.photo_pixels(garments[index], condition, rng)
                (folder / name).write_bytes(photos.encode(pixels, condition["quality"]))
                rows.append((name.as_posix(), category, part))
    listing = folder / "photos.csv"
    with open(listing, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([("path", "label", "part"), *rows])
    return listing


def fewer(listing: Path, per_category: int) -> Path:
    """A copy of the CSV with only the first `per_category` training photos of each category."""
    with open(listing, newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))
    kept, seen = [], {}
    for row in rows:
        if row[2] == "train":
            seen[row[1]] = seen.get(row[1], 0) + 1
            if seen[row[1]] > per_category:
                continue
        kept.append(row)
    path = listing.with_name(f"photos-{per_category}.csv")
    with open(path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *kept])
    return path


def fashion_mnist_model(listing: Path, model_dir: Path) -> dict:
    """The 28 × 28 model's accuracy per category on the listing's test photos, through today's conversion."""
    from fmnist.core import images
    from fmnist.core.inference import Predictor
    from fmnist.core.model_folder import files
    from fmnist.core.review import ReviewRule

    model = files(model_dir).model
    predictor = Predictor(model, ReviewRule(threshold=0.0))
    with open(listing, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.reader(file) if row[2] == "test"]
    pictures = np.stack([images.decode(images.open_image((listing.parent / row[0]).read_bytes())) for row in rows])
    _, answers = predictor(pictures)
    category_of = {index: category for category, classes in CATEGORIES.items() for index in classes}
    right = np.array([category_of[a["class_index"]] == row[1] for a, row in zip(answers, rows, strict=True)])
    labels = np.array([row[1] for row in rows])
    return {
        "model": str(model),
        "test_accuracy": round(float(right.mean()), 4),
        "per_category": {category: round(float(right[labels == category].mean()), 4) for category in CATEGORIES},
    }


def tagging_rate(listing: Path, model_dir: Path, output: Path) -> dict:
    """`fmnist.tag` on the test photos with the trained model folder: photos a second, one decoding process."""
    from fmnist.core.model_folder import files
    from fmnist.core.review import load_review_rule
    from fmnist.tag import local

    test_folder = output / "test-photos"
    test_folder.mkdir(parents=True, exist_ok=True)
    with open(listing, newline="", encoding="utf-8") as file:
        for row in csv.reader(file):
            if row[2] == "test":
                target = test_folder / Path(row[0]).name
                target.write_bytes((listing.parent / row[0]).read_bytes())
    paths = files(model_dir)
    rule = load_review_rule(paths.thresholds, "0.99")
    start = time.perf_counter()
    tags, problems = local.tag(test_folder, output / "tags.csv", paths.model, rule, progress=False, workers=1)
    seconds = time.perf_counter() - start
    return {
        "photos": len(tags),
        "problems": len(problems),
        "seconds": round(seconds, 2),
        "per_second": round(len(tags) / seconds, 1),
    }


def main(argv=None) -> None:
    from fmnist import train_photos

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=1000, help="training photos per category")
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 250, 500], help="fewer, for the curve")
    parser.add_argument("--photos", type=Path, help="the listing of photos that an earlier run rendered")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--folder", type=Path, default=Path("build/own_photos"))
    parser.add_argument("--fashion-mnist-model", type=Path, default=Path("models"), help="its model folder")
    arguments = parser.parse_args(argv)
    listing = arguments.photos or render(arguments.folder / "photos", arguments.per_category)
    full = train_photos.run(listing, arguments.folder / "model", epochs=arguments.epochs, progress=False)
    curve = {arguments.per_category: full["test_accuracy"]}
    for size in arguments.sizes:
        smaller = train_photos.run(
            fewer(listing, size), arguments.folder / f"model-{size}", epochs=arguments.epochs, progress=False
        )
        curve[size] = smaller["test_accuracy"]
    report = {
        "command": "python -m benchmarks.own_photos " + " ".join(sys.argv[1:] if argv is None else argv),
        "processor": processor_name(),
        "categories": {category: list(classes) for category, classes in CATEGORIES.items()},
        "trained": {
            key: full[key] for key in ("photos", "input", "epochs", "train_seconds", "test_accuracy", "auto_tagging")
        },
        "per_category": {name: round(full["per_class"][name]["recall"], 4) for name in CATEGORIES},
        "accuracy_by_photos_per_category": dict(sorted(curve.items())),
        "fashion_mnist_model": fashion_mnist_model(listing, arguments.fashion_mnist_model),
        "tagging": tagging_rate(listing, arguments.folder / "model", arguments.folder),
    }
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
