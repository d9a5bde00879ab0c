"""The augmentation search of issue 48 (docs/robustness.md, "How the recipe is chosen"): candidates trained
with the notebook's network and schedule, judged on the validation split, clean and under every condition of
the robustness benchmark.

    python -m benchmarks.augmentation_search --candidates all --seeds 42 --train-images 20000 --epochs 10 \
        --output build/screening.jsonl
    python -m benchmarks.augmentation_search --summarise build/screening.jsonl
    python -m benchmarks.augmentation_search --mirror-average build/confirmation-models --over embedding \
        --candidates "frame, levels, flip" --seeds 42 43 44 --output reports/augmentation_search.jsonl
    python -m benchmarks.augmentation_search --test-models build/round5-models/candidate-28-42.keras \
        --output reports/augmentation_test.jsonl

Each run trains in a fresh process (Keras's dtype policy is global), in the processor's precision
(`train.precision_policy`), and appends one JSON line: the validation accuracy clean and per condition,
their mean and worst, and the training time. "today" is the recipe committed before this search, with its
hand-written shift of up to 1 pixel; every other candidate augments with Keras's preprocessing layers.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import robustness, training

# name: the augmentation's settings (a mirror, a shift in pixels, a tilt in degrees, a zoom as a share of the
# side, a sideways shear, a contrast change, Gaussian noise) and any change of epochs, of the filters per
# convolution or the units of the dense layer, of the dropout, or the photo's mirror averaged in ("views")
CANDIDATES = {
    "today": None,
    "flip": {"flip": True, "shift": 1},
    "flip, tilt 10°, zoom 10 %": {"flip": True, "shift": 1, "tilt": 10, "zoom": 0.1},
    "flip, tilt 15°, zoom 20 %": {"flip": True, "shift": 1, "tilt": 15, "zoom": 0.2},
    "flip, tilt 10°, zoom 10 %, shear 0.2": {"flip": True, "shift": 1, "tilt": 10, "zoom": 0.1, "shear": 0.2},
    "flip, tilt 10°, zoom 10 %, contrast 0.5, noise 0.05": {
        "flip": True, "shift": 1, "tilt": 10, "zoom": 0.1, "contrast": 0.5, "noise": 0.05,
    },
    "flip, tilt 15°, zoom 20 %, shear 0.2, contrast 0.5, noise 0.08": {
        "flip": True, "shift": 1, "tilt": 15, "zoom": 0.2, "shear": 0.2, "contrast": 0.5, "noise": 0.08,
    },
    "flip, tilt 5°, zoom 5 %, contrast 0.5, noise 0.05": {
        "flip": True, "shift": 1, "tilt": 5, "zoom": 0.05, "contrast": 0.5, "noise": 0.05,
    },
    "flip, tilt 10°, zoom in 15 % to out 50 %, contrast 0.5, noise 0.08": {
        "flip": True, "shift": 1, "tilt": 10, "zoom": (-0.15, 0.5), "contrast": 0.5, "noise": 0.08,
    },
    "flip, tilt 15°, zoom in 20 % to out 70 %, shear 0.2, contrast 0.5, noise 0.1, blur": {
        "flip": True, "shift": 1, "tilt": 15, "zoom": (-0.2, 0.7), "shear": 0.2, "contrast": 0.5, "noise": 0.1,
        "blur": 1.0,
    },
    "flip, contrast 0.5, noise 0.08": {"flip": True, "shift": 1, "contrast": 0.5, "noise": 0.08},
    "flip, zoom out to 50 %, contrast 0.5, noise 0.08": {
        "flip": True, "shift": 1, "zoom": (0.0, 0.5), "contrast": 0.5, "noise": 0.08,
    },
    "flip, tilt 10°, contrast 0.5, noise 0.08": {"flip": True, "shift": 1, "tilt": 10, "contrast": 0.5, "noise": 0.08},
    # with each image's levels standardised first (LayerNormalization over the image): exposure and contrast cancel
    "levels, flip": {"levels": True, "flip": True, "shift": 1},
    "levels, flip, zoom out to 60 %, noise 0.08": {
        "levels": True, "flip": True, "shift": 1, "zoom": (0.0, 0.67), "noise": 0.08,
    },
    "levels, flip, tilt 10°, zoom in 15 % to out 60 %, noise 0.08": {
        "levels": True, "flip": True, "shift": 1, "tilt": 10, "zoom": (-0.15, 0.67), "noise": 0.08,
    },
    "levels, flip, tilt 15°, zoom in 20 % to out 60 %, noise 0.1": {
        "levels": True, "flip": True, "shift": 1, "tilt": 15, "zoom": (-0.2, 0.67), "noise": 0.1,
    },
    # with each garment framed first (fmnist.model.Frame: cropped to its outline, enlarged to fill the image)
    "frame, levels, flip": {"frame": True, "levels": True, "flip": True, "shift": 1},
    # the second round, on the framed recipe (docs/robustness.md); a negative zoom enlarges, and the image's edge
    # cuts the garment
    "frame, levels, flip, zoom in 20 %": {"frame": True, "levels": True, "flip": True, "shift": 1, "zoom": (-0.2, 0.0)},
    "frame, levels, flip, tilt 10°": {"frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 10},
    "frame, levels, flip, tilt 10°, shear 0.2": {
        "frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 10, "shear": 0.2,
    },
    "frame, levels, flip, noise 0.08": {"frame": True, "levels": True, "flip": True, "shift": 1, "noise": 0.08},
    "frame, levels, flip, tilt 10°, zoom in 20 %, noise 0.05": {
        "frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 10, "zoom": (-0.2, 0.0), "noise": 0.05,
    },
    # the third round (docs/robustness.md): the framed recipe with a longer schedule
    "frame, levels, flip, 25 epochs": {"frame": True, "levels": True, "flip": True, "shift": 1, "epochs": 25},
    # a probe for the next round: a milder tilt, and the tilt with wider convolutions (filters per layer)
    "frame, levels, flip, tilt 5°": {"frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 5},
    "frame, levels, flip, tilt 10°, filters 48/96": {
        "frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 10, "filters": (48, 96),
    },
    # and less regularisation beside the tilt: no dropout
    "frame, levels, flip, tilt 10°, no dropout": {
        "frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 10, "dropout": 0.0,
    },
    "frame, levels, flip, tilt 5°, no dropout": {
        "frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 5, "dropout": 0.0,
    },
    # the fifth round's choice as the notebook trains it: each photo's embedding averaged with its mirror's when the
    # network answers (fmnist.model.MirrorViews and MeanOfViews)
    "frame, levels, flip, tilt 5°, no dropout, embeddings averaged": {
        "frame": True, "levels": True, "flip": True, "shift": 1, "tilt": 5, "dropout": 0.0, "views": True,
    },
}  # fmt: skip


ADOPTED = "frame, levels, flip, tilt 5°, no dropout, embeddings averaged"  # the fifth round's choice, the notebook's
# the sixth round (docs/robustness.md): the adopted recipe with wider convolutions, or a wider dense layer; the
# seventh: the wider dense layer in fewer epochs
CANDIDATES |= {
    f"{ADOPTED}, filters 48/96": CANDIDATES[ADOPTED] | {"filters": (48, 96)},
    f"{ADOPTED}, dense 512": CANDIDATES[ADOPTED] | {"dense_units": 512},
    f"{ADOPTED}, dense 512, 16 epochs": CANDIDATES[ADOPTED] | {"dense_units": 512, "epochs": 16},
}
# the eighth round: the adopted recipe without its shift of up to a pixel, alone and with the wider dense layer,
# whose time the shift's would pay for
CANDIDATES |= {
    f"{ADOPTED}, no shift": CANDIDATES[ADOPTED] | {"shift": 0},
    f"{ADOPTED}, no shift, dense 512": CANDIDATES[ADOPTED] | {"shift": 0, "dense_units": 512},
}

CANDIDATES_BY_SLUG = {name: f"candidate-{number}" for number, name in enumerate(CANDIDATES)}
REPORT = Path(__file__).resolve().parent.parent / "reports" / "augmentation_search.jsonl"  # every run at full size


def augmentation(settings: dict, seed: int):
    """Keras's preprocessing layers for `settings`, in one Sequential."""
    import keras
    from keras import layers

    constant = {"fill_mode": "constant", "seed": seed}
    chosen = [layers.RandomFlip("horizontal", seed=seed)] if settings.get("flip") else []
    if settings.get("shift"):
        chosen.append(layers.RandomTranslation(settings["shift"] / 28, settings["shift"] / 28, **constant))
    if settings.get("tilt"):
        chosen.append(layers.RandomRotation(settings["tilt"] / 360, **constant))
    if settings.get("zoom"):
        chosen.append(layers.RandomZoom(settings["zoom"], **constant))
    if settings.get("shear"):
        chosen.append(layers.RandomShear(settings["shear"], **constant))
    if settings.get("contrast"):
        chosen.append(layers.RandomContrast(settings["contrast"], value_range=(0, 1), seed=seed))
    if settings.get("blur"):
        chosen.append(layers.RandomGaussianBlur(1.0, 5, settings["blur"], value_range=(0, 1), seed=seed))
    if settings.get("noise"):
        chosen.append(layers.GaussianNoise(settings["noise"], seed=seed))
    return keras.Sequential(chosen, name="augmentation")


def candidate_network(settings: dict, seed: int):
    """The notebook's network as it stood before this search, with a dropout of 0.2 after its dense layer unless
    the candidate sets another, and with each garment framed, each image's levels standardised and each photo's
    mirror averaged in (`views`) where the candidate asks for it."""
    from fmnist import recipe

    widths = {key: settings[key] for key in ("filters", "dense_units") if key in settings}
    model = recipe.build_model(seed=seed, **widths)
    asked = {name for name in ("frame", "levels", "views") if settings.get(name)}
    if "views" in asked:
        asked.add("embedding")  # the layer that averages over the views
    left_out = {"frame", "levels", "views", "embedding"} - asked
    return training.earlier_network(model, seed, settings.get("dropout", 0.2), left_out)


def condition_accuracy(model, images, labels) -> dict:
    """The model's accuracy on `images` (levels 0 to 1) unchanged and under every robustness condition."""
    garments = (images[..., 0] * 255).round().astype(np.uint8)
    accuracy = {}
    for condition in ["unchanged", *robustness.CONDITIONS]:
        pictures = garments if condition == "unchanged" else robustness.changed(garments, condition)
        probabilities = model.predict(pictures[..., None].astype("float32") / 255, batch_size=1000, verbose=0)
        accuracy[condition] = round(float((probabilities.argmax(axis=1) == labels).mean()), 4)
    return accuracy


def train_candidate(name: str, seed: int, train_images, epochs: int, save=None) -> dict:
    """Train one candidate and judge it on the validation split; with `save`, keep the model in that folder."""
    import keras

    from fmnist import recipe, train

    (x_train, y_train), (x_val, y_val) = split(seed)
    x_train, y_train = x_train[:train_images], y_train[:train_images]
    train.make_deterministic(seed)
    keras.mixed_precision.set_global_policy(train.precision_policy())
    settings = CANDIDATES[name]
    if settings is None:
        dataset = training.seeded_dataset(x_train, y_train, recipe.BATCH_SIZE, seed, training.random_shift)
    else:
        dataset = train.make_dataset(x_train, y_train, recipe.BATCH_SIZE, seed, augment=augmentation(settings, seed))
    epochs = (settings or {}).get("epochs", epochs)
    model = candidate_network(settings or {}, seed)
    recipe.compile_model(model, epochs * len(dataset))
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    if save:
        Path(save).mkdir(parents=True, exist_ok=True)
        model.save(Path(save, f"{CANDIDATES_BY_SLUG[name]}-{seed}.keras"))
    accuracy = condition_accuracy(model, x_val, y_val.argmax(axis=1))
    return judged(name, seed, accuracy, train_images=len(x_train), epochs=epochs, train_seconds=round(seconds, 1))


def split(seed: int):
    """The training images and the validation split of `seed`, as the notebook splits them (levels 0 to 1)."""
    import keras

    from fmnist import data, recipe

    (train_x, train_y), _ = data.load_data()
    x_all, y_all = data.scale_images(train_x), keras.utils.to_categorical(train_y)
    return data.split_validation(x_all, y_all, recipe.VALIDATION_SIZE, seed)


def judged(name: str, seed: int, accuracy: dict, **run) -> dict:
    """One run's JSON line: its validation accuracy clean and per condition, with their mean and worst."""
    changes = [value for key, value in accuracy.items() if key != "unchanged"]
    return {
        "candidate": name,
        "seed": seed,
        **run,
        "clean": accuracy["unchanged"],
        "mean": round(float(np.mean(changes)), 4),
        "worst": min(changes),
        "conditions": accuracy,
    }


def append_run(run: dict, output: Path) -> None:
    """Add `run` to the JSON-lines report `output`, and print it without its per-condition figures."""
    with output.open("a") as lines:
        lines.write(json.dumps(run) + "\n")
    print(json.dumps({key: value for key, value in run.items() if key != "conditions"}), flush=True)


def mirror_averaged(model, over: str = "probabilities"):
    """`model` answering with the mean over the image and its mirror: of its probabilities (the fifth round),
    or of its embeddings, as the recipe's `MirrorViews` and `MeanOfViews` take it (the amendment before
    adoption: the scores before the softmax)."""
    import keras

    from fmnist.model import EMBEDDING_LAYER, MeanOfViews, MirrorViews

    if over == "embedding":  # a network of the search, whose dense layer was named `embedding`, without views
        names = [layer.name for layer in model.layers]
        if EMBEDDING_LAYER not in names or any(isinstance(layer, MirrorViews) for layer in model.layers):
            raise ValueError(f"averages a network without views whose dense layer is {EMBEDDING_LAYER!r}: {names}")
        averaged = []
        for layer in model.layers:
            averaged += [layer, MeanOfViews()] if layer.name == EMBEDDING_LAYER else [layer]
        return keras.Sequential([keras.Input(shape=(28, 28, 1)), MirrorViews(), *averaged])
    images = keras.Input(shape=(28, 28, 1))
    views = [model(images), model(keras.ops.flip(images, axis=2))]
    return keras.Model(images, keras.layers.Average()(views))


AVERAGED = {"probabilities": "mirror averaged", "embedding": "embeddings averaged"}  # the runs' name endings


def mirror_average_runs(folder: Path, names: list, seeds: list, output: Path, over: str, save=None) -> None:
    """The fifth round: each kept network of `names` and `seeds`, judged on its seed's validation split with the
    mirror averaged `over` its probabilities or its embeddings; one JSON line each, named after its candidate
    with the `AVERAGED` ending. With `save`, the averaged networks that are candidates of their own (the
    adopted recipe) are kept in that folder, for their test read."""
    import keras

    from fmnist import model  # noqa: F401  (registers Frame for loading)

    trained = {}  # each kept network's training, from its single-pass run at full size in the search's report
    for run in map(json.loads, REPORT.read_text().splitlines()):
        if "network" not in run and run["train_images"] == 55_000:
            trained[run["candidate"], run["seed"]] = {
                key: run[key] for key in ("train_images", "epochs", "train_seconds")
            }
    for seed in seeds:
        _, (x_val, y_val) = split(seed)
        for name in names:
            path = Path(folder, f"{CANDIDATES_BY_SLUG[name]}-{seed}.keras")
            network = keras.models.load_model(path)
            averaged, averaged_name = mirror_averaged(network, over), f"{name}, {AVERAGED[over]}"
            accuracy = condition_accuracy(averaged, x_val, y_val.argmax(axis=1))
            if save and averaged_name in CANDIDATES:
                averaged.save(Path(save, f"{CANDIDATES_BY_SLUG[averaged_name]}-{seed}.keras"))
            append_run(judged(averaged_name, seed, accuracy, **trained[name, seed], network=path.name), output)


def test_accuracy(paths: list, output: Path) -> None:
    """After the choice, once: the test accuracy of each chosen model that `--save` kept (files named
    candidate-N-SEED.keras), one JSON line each, appended to `output`."""
    import keras

    from fmnist import data, model

    _, (images, labels) = data.load_data()
    slugs = {slug: name for name, slug in CANDIDATES_BY_SLUG.items()}
    lines = output.read_text().splitlines() if output.exists() else []
    read = {(run["candidate"], run["seed"]) for run in map(json.loads, lines)}
    for path in paths:
        slug, seed = Path(path).stem.rsplit("-", 1)
        if (slugs[slug], int(seed)) in read:
            raise SystemExit(f"{path}: its test accuracy is in {output} already; the test split is read once")
        network = model.float32_copy(keras.models.load_model(path))
        predicted = network.predict(data.scale_images(images), batch_size=1000, verbose=0).argmax(axis=1)
        run = {
            "candidate": slugs[slug],
            "seed": int(seed),
            "test_accuracy": round(float((predicted == labels).mean()), 4),
        }
        append_run(run, output)


def summarise(paths) -> None:
    """Per candidate, over its seeds: clean accuracy, mean and worst over the conditions, training time."""
    runs = [json.loads(line) for path in paths for line in Path(path).read_text().splitlines() if line]
    for name in dict.fromkeys(run["candidate"] for run in runs):
        mine = [run for run in runs if run["candidate"] == name]
        figures = {
            key: statistics.mean(run[key] for run in mine) for key in ("clean", "mean", "worst", "train_seconds")
        }
        print(
            f"{name:<64} seeds {len(mine)}  clean {figures['clean']:.4f}  mean {figures['mean']:.4f}  "
            f"worst {figures['worst']:.4f}  {figures['train_seconds']:.0f} s"
        )


def argument_parser() -> argparse.ArgumentParser:
    """The command line: the candidates and seeds to train, or a report to summarise, kept models to judge
    mirror averaged, or chosen models' test reads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--candidates", nargs="+", default=["all"], help="'all' or names of " + str(list(CANDIDATES)).replace("%", "%%")
    )  # argparse formats %
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--save", type=Path, help="keep each trained model in this folder")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child process: one run
    parser.add_argument("--summarise", nargs="+", metavar="JSONL")
    parser.add_argument("--test-models", nargs="+", type=Path, metavar="MODEL", help="the chosen models' test accuracy")
    parser.add_argument("--mirror-average", type=Path, metavar="FOLDER", help="judge the kept models, mirror averaged")
    parser.add_argument(
        "--over", choices=list(AVERAGED), default="probabilities", help="what --mirror-average averages"
    )
    return parser


def main(argv=None) -> None:
    parser = argument_parser()
    arguments = parser.parse_args(argv)
    if arguments.summarise:
        summarise(arguments.summarise)
        return
    if arguments.test_models:
        test_accuracy(arguments.test_models, arguments.output)
        return
    names = list(CANDIDATES) if arguments.candidates == ["all"] else arguments.candidates
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        parser.error(f"no such candidate: {', '.join(unknown)}")
    if arguments.mirror_average:
        mirror_average_runs(
            arguments.mirror_average, names, arguments.seeds, arguments.output, arguments.over, arguments.save
        )
        return
    if arguments.one:
        run = train_candidate(names[0], arguments.seeds[0], arguments.train_images, arguments.epochs, arguments.save)
        append_run(run, arguments.output)
        return
    for seed in arguments.seeds:
        for name in names:
            command = [sys.executable, "-m", "benchmarks.augmentation_search", "--one", "--candidates", name]
            command += ["--seeds", str(seed), "--epochs", str(arguments.epochs), "--output", str(arguments.output)]
            if arguments.train_images:
                command += ["--train-images", str(arguments.train_images)]
            if arguments.save:
                command += ["--save", str(arguments.save)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
