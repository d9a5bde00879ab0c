"""Train the lesson's network on a shop's own labelled photos, and write a model folder that serves and tags.

    python -m fmnist.train_photos FOLDER_OR_CSV -o MODEL_DIR [--size 64] [--gray] [--epochs 30] [--seed 42]

FOLDER holds one sub-folder of photos per category, named by the category, as keras.io's "Image classification
from scratch" lays it out; a CSV holds `path,label` rows, the paths relative to the CSV. The photos are split,
per category and seeded, into training, validation and test (70, 15 and 15 %), unless the CSV's rows carry a
third column that says which (`train`, `validation` or `test`); MODEL_DIR/split.csv says where each went. Each is
kept in proportion on its own background colour and resized (`fmnist.core.images.fit`: the one function that
serving uses too), in colour unless `--gray`. The network is the lesson's (`fmnist.recipe.build_model`: two
convolution blocks, its augmentation, schedule and precision), widened for larger inputs. The temperature and
the review thresholds come from the validation split as the lesson fits them. MODEL_DIR then holds a model
folder (`fmnist.core.model_folder`): model.keras, model.tflite with its class names and input inside, the
review thresholds, a catalogue of the photos, and the report: report.json (test accuracy, per-class scores,
the confusion matrix), confusion.png and mistakes.png (the most confident mistakes). docs/own-photos.md.
"""

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path, PurePath
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from fmnist.core import images, model_folder, sources

SHARES = {"train": 0.70, "validation": 0.15, "test": 0.15}
MIN_PER_CLASS = 3  # one photo each for training, validation and test at least


class Photo(NamedTuple):
    """A labelled photo: where it is, its category, and the part of the split it must go to (or None)."""

    path: str
    label: str
    part: str | None = None


def labelled_photos(source) -> list[Photo]:
    """The photos of a folder of category folders, or of a CSV of `path,label[,part]` rows; `ValueError` says
    why not."""
    source = Path(source)
    if source.is_dir():
        loose = [path.name for path in source.iterdir() if path.suffix.lower() in sources.IMAGE_SUFFIXES]
        if loose:
            raise ValueError(f"{source} holds photos outside any category folder ({loose[0]}, ...): move them into one")
        folders = sorted(path for path in source.iterdir() if path.is_dir() and not path.name.startswith("."))
        return [
            Photo(str(path), folder.name)
            for folder in folders
            for path in sorted(folder.rglob("*"))
            if path.suffix.lower() in sources.IMAGE_SUFFIXES
        ]
    if source.suffix.lower() != ".csv" or not source.is_file():
        raise ValueError(f"{source} is neither a folder of category folders nor a CSV file of path,label rows")
    with open(source, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.reader(file) if any(cell.strip() for cell in row)]
    if rows and [cell.strip().lower() for cell in rows[0][:2]] == ["path", "label"]:
        rows = rows[1:]
    rows = [[cell.strip() for cell in row] for row in rows]
    width = len(rows[0]) if rows else 2
    bad = [
        number
        for number, row in enumerate(rows, start=1)
        if len(row) != width or width not in (2, 3) or not all(row) or (width == 3 and row[2] not in SHARES)
    ]
    if bad:
        raise ValueError(
            f"{source}: rows {bad[:5]} are not path,label or path,label,part with a part of {list(SHARES)}"
        )
    return [Photo(str(source.parent / row[0]), *row[1:]) for row in rows]


def split(photos: list[Photo], seed: int) -> dict[str, list[Photo]]:
    """The photos of each category shuffled (seeded) and cut into `SHARES`: the same share of every category in
    each part, at least one photo per category in each."""
    labels = sorted({photo.label for photo in photos})
    counts = {label: sum(photo.label == label for photo in photos) for label in labels}
    few = {label: count for label, count in counts.items() if count < MIN_PER_CLASS}
    if len(labels) < 2 or few:
        raise ValueError(f"need 2 or more categories of {MIN_PER_CLASS} or more photos each; got {counts}")
    parts = {name: [] for name in SHARES}
    if photos[0].part is not None:  # the CSV says where each goes
        for photo in photos:
            parts[photo.part].append(photo)
        missing = [(name, label) for name in SHARES for label in labels if label not in {p.label for p in parts[name]}]
        if missing:
            raise ValueError(f"every category needs a photo in each part; none of {missing[0][1]} in {missing[0][0]}")
        return parts
    rng = np.random.default_rng(seed)
    for label in labels:
        mine = [photo for photo in photos if photo.label == label]
        mine = [mine[i] for i in rng.permutation(len(mine))]
        held = [max(1, round(SHARES[name] * len(mine))) for name in ("validation", "test")]
        parts["validation"] += mine[: held[0]]
        parts["test"] += mine[held[0] : held[0] + held[1]]
        parts["train"] += mine[held[0] + held[1] :]
    return parts


def load(photos: list[Photo], spec: model_folder.Spec, progress=True) -> np.ndarray:
    """Every photo as the model's input, through serving's own preparation; `ValueError` names any unreadable."""
    pictures, problems = [], []
    for photo in tqdm(photos, unit="photo", disable=not progress, file=sys.stderr, desc="reading"):
        try:
            pictures.append(spec.prepare(images.open_image(Path(photo.path).read_bytes())))
        except (OSError, images.InputError) as error:
            problems.append(f"{photo.path}: {error}")
    if problems:
        raise ValueError(f"{len(problems)} photos cannot be read, first: {problems[0]}; fix or remove them")
    return np.asarray(pictures, dtype=np.float32).reshape(-1, *spec.shape)


def build_model(spec: model_folder.Spec, seed: int, filters=(32, 64), dense_units=256):
    """The lesson's network for `spec`'s input and classes, its convolutions' `filters` widened by √(side / 28)."""
    import keras

    from fmnist import recipe
    from fmnist.model import Frame

    widen = math.sqrt(spec.size / images.SIZE)
    widths = tuple(round(width * widen) for width in filters)
    lesson = recipe.build_model(filters=widths, dense_units=dense_units, seed=seed)
    # not the lesson's Frame, which looks for a light garment on black: a shop's photos have their own background
    kept = [layer for layer in lesson.layers[:-1] if not isinstance(layer, Frame)]
    hidden = [type(layer).from_config(layer.get_config()) for layer in kept]
    last = lesson.layers[-1].get_config() | {"units": len(spec.labels)}
    output = keras.layers.Dense.from_config(last)
    return keras.Sequential([keras.Input(spec.shape, name="image"), *hidden, output], name="photo_cnn")


def train_model(spec: model_folder.Spec, x: dict, labels: dict, epochs: int, seed: int, batch_size: int):
    """Build and fit the network as the lesson does (precision, augmentation, schedule, label smoothing) on the
    training split, watching the validation split; (model, history, training seconds)."""
    import keras

    from fmnist import recipe, train

    train.make_deterministic(seed)
    keras.mixed_precision.set_global_policy(train.precision_policy())
    model = build_model(spec, seed)
    targets = {name: keras.utils.to_categorical(labels[name], len(spec.labels)) for name in ("train", "validation")}
    augment = recipe.build_augmentation(seed)
    dataset = train.make_dataset(x["train"], targets["train"], batch_size, seed, augment=augment)
    validation = train.make_dataset(x["validation"], targets["validation"], batch_size)
    recipe.compile_model(model, epochs * len(dataset))
    start = time.perf_counter()
    history = model.fit(dataset, epochs=epochs, validation_data=validation, verbose=2, shuffle=False)
    return model, history.history, time.perf_counter() - start


def calibrated(model, x_val, labels_val, seed: int):
    """The float32 model with its temperature, fitted as the lesson fits it (the validation photos as they are
    and once augmented), and the review threshold per target accuracy; (model, temperature, thresholds)."""
    from fmnist import calibrate, recipe
    from fmnist.model import float32_copy

    served = float32_copy(model)
    x_review = np.concatenate([x_val, recipe.build_augmentation(seed)(x_val, training=True)])
    review_labels = np.tile(labels_val, 2)
    temperature = calibrate.fit_temperature(served.predict(x_review, verbose=0), review_labels)
    network = calibrate.with_temperature(served, temperature)
    probabilities = network.predict(x_review, verbose=0)
    right = probabilities.argmax(axis=1) == review_labels
    scores = calibrate.margin(probabilities)
    thresholds = {str(target): calibrate.review_threshold(scores, right, target) for target in calibrate.REVIEW_TARGETS}
    return network, temperature, thresholds


def report(folder: Path, network, x_test, labels_test, classes, thresholds: dict) -> dict:
    """Test accuracy, per-class scores, the confusion matrix, calibration and auto-tagging on the test split,
    with confusion.png and mistakes.png (the most confident mistakes) in `folder`."""
    from sklearn import metrics

    from fmnist import calibrate, evaluate, plots

    probabilities = network.predict(x_test, verbose=0)
    predicted = probabilities.argmax(axis=1)
    plots.save(plots.confusion_matrix(labels_test, predicted, classes), folder / "confusion.png")
    mistakes = evaluate.most_confident_mistakes(labels_test, probabilities, count=6)
    if len(mistakes):  # a test split without a mistake has no figure
        shown = x_test[mistakes] if x_test.shape[-1] == 3 else np.repeat(x_test[mistakes], 3, axis=-1)
        title = "The most confident mistakes (test split)"
        grid = plots.prediction_grid(
            shown, labels_test[mistakes], probabilities[mistakes], title=title, classes=classes
        )
        plots.save(grid, folder / "mistakes.png")
    matrix = metrics.confusion_matrix(labels_test, predicted, labels=range(len(classes)))
    targets = {float(target): threshold for target, threshold in thresholds.items()}
    return {
        "test_accuracy": round(float((predicted == labels_test).mean()), 4),
        "per_class": evaluate.per_class_report(labels_test, predicted, classes),
        "confusion_matrix": matrix.tolist(),
        "test_ece": round(calibrate.expected_calibration_error(probabilities, labels_test), 4),
        "auto_tagging": calibrate.auto_tagging(calibrate.margin(probabilities), predicted == labels_test, targets),
    }


def write_split(folder: Path, parts: dict) -> None:
    """split.csv: every photo's absolute path, category and part; `python -m fmnist.train_photos` takes it as it is."""
    with open(folder / "split.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(("path", "label", "part"))
        rows = ((Path(photo.path).resolve(), photo.label, name) for name, part in parts.items() for photo in part)
        writer.writerows(rows)


def catalogue(source, photos: list[Photo], prepared: dict, model: Path, folder: Path) -> list[str]:
    """The catalogue of every photo in `folder`, each photo's id its path below the source's folder, as the
    catalogue command names them (`fmnist.tag.catalogue`), from the photos' model inputs (`prepared`, by path);
    the problems (a repeated id is skipped)."""
    from fmnist.core.catalogue import from_items

    root = Path(source) if Path(source).is_dir() else Path(source).parent
    files = ((PurePath(os.path.relpath(photo.path, root)), photo.path) for photo in photos)
    items, problems = sources.folder_items(files)
    from_items(items, problems, model, source, prepared).save(folder / model_folder.CATALOGUE)
    return problems


def output_folder(folder) -> Path:
    """The model folder to write, created; `ValueError` for a folder that holds another model."""
    folder = Path(folder)
    others = [path.name for path in folder.glob("*.tflite") if path.stem not in ("model", "model_int8")]
    if others:
        raise ValueError(f"{folder} holds another model ({others[0]}): write the new one to a folder of its own")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run(source, folder, size=64, channels=3, epochs=30, seed=42, batch_size=64, progress=True) -> dict:
    """Train on `source`'s photos and write the model folder `folder`; its report, also in report.json."""
    from fmnist import evaluate, export

    photos = labelled_photos(source)
    parts = split(photos, seed)
    classes = tuple(sorted({photo.label for photo in photos}))
    spec = model_folder.Spec(classes, size, channels, model_folder.PHOTO)
    folder = output_folder(folder)
    write_split(folder, parts)
    x = {name: load(part, spec, progress) for name, part in parts.items()}
    labels = {name: np.array([classes.index(photo.label) for photo in part]) for name, part in parts.items()}
    model, history, seconds = train_model(spec, x, labels, epochs, seed, batch_size)
    network, temperature, thresholds = calibrated(model, x["validation"], labels["validation"], seed)
    paths = export.export_all(network, folder, spec, name="model")
    evaluate.write_metrics(folder / model_folder.THRESHOLDS, {"score": "margin", "thresholds": thresholds})
    prepared = {photo.path: x[name][i] for name, part in parts.items() for i, photo in enumerate(part)}
    skipped = catalogue(source, photos, prepared, paths["tflite"], folder)
    results = report(folder, network, x["test"], labels["test"], classes, thresholds)
    results |= {
        "classes": list(classes),
        "input": {"size": size, "channels": channels},
        "photos": {name: len(part) for name, part in parts.items()},
        "epochs": epochs,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "temperature": round(temperature, 4),
        "final_validation_accuracy": round(float(history["val_accuracy"][-1]), 4),
        "catalogue_skipped": skipped,
    }
    evaluate.write_metrics(folder / "report.json", results)
    return results


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.train_photos", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a folder of category folders of photos, or a CSV of path,label rows")
    parser.add_argument("-o", "--output", required=True, help="the model folder to write")
    parser.add_argument("--size", type=positive, default=64, help="the input's side in pixels (%(default)s)")
    parser.add_argument("--gray", action="store_true", help="train on gray photos (default: colour)")
    parser.add_argument("--epochs", type=positive, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=positive, default=64)
    parser.add_argument("--quiet", action="store_true", help="no progress bar while reading")
    arguments = parser.parse_args(argv)
    options = {"channels": 1 if arguments.gray else 3, "progress": not arguments.quiet}
    options |= {name: getattr(arguments, name) for name in ("size", "epochs", "seed", "batch_size")}
    try:
        results = run(arguments.source, arguments.output, **options)
    except (OSError, ValueError) as error:
        print(f"fmnist.train_photos: {error}", file=sys.stderr)
        return 2
    print(json.dumps({key: results[key] for key in ("classes", "photos", "test_accuracy", "train_seconds")}))
    print(f"wrote the model folder {arguments.output}: serve it with FMNIST_MODEL_DIR={arguments.output} make serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
