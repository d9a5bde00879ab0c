"""Training speed, side by side in one run: throughput against a naive baseline, and time to 94 %.

    python -m benchmarks.training [--epochs 3] [--seeds 42 43 44] [--committed-seed] [--float32-seeds 42 43 44]

Throughput (images per second, timed from the end of a warm-up epoch to the end of `--epochs` more):
(a) the naive baseline: the original project's CNN, Keras defaults, NumPy arrays, batch size 32, oneDNN off;
(b) the project's pipeline on the same CNN and the same work (no augmentation): oneDNN, the precision policy
    of `train.precision_policy`, tf.data (cache, reshuffle, prefetch), batch 256, Adam;
(c) for reference, the project's own model with its augmentation.

Time to accuracy: the previous recipe (`PREVIOUS_RECIPE`: 60 epochs of the earlier model) and the notebook's
recipe, each timed over `--epochs` epochs after a warm-up epoch, in fresh processes one after the other, and
the seconds per epoch multiplied by the recipe's epochs. Then the notebook itself is executed with papermill
once per seed, for the accuracy over seeds and the whole notebook's wall time; `--committed-seed` counts the
committed run (reports/metrics.json) as its seed instead of executing it again; `--float32-seeds` executes it
again per seed in float32, the path of a CPU without bfloat16 units.
Every measurement runs in a fresh process (TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at import, and
Keras's dtype policy is global). Figures go to stdout and to reports/training_benchmark.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOPS_PER_IMAGE = 16e6  # the seed CNN, forward and backward, about (see docs/training.md)
TARGET_ACCURACY = 0.94
# The recipe the notebook used before the time-to-94 % work: 0.9408 (3-seed mean 0.9400) in 60 epochs.
PREVIOUS_RECIPE = {
    "filters": (32, 64),
    "epochs": 60,
    "batch_size": 128,
    "learning_rate": 3e-3,
    "warmup_fraction": 0.05,
    "weight_decay": 1e-4,
    "label_smoothing": 0.1,
    "max_shift": 2,
    "flip": True,
    "erase_probability": 0.5,
    "validation_size": 5000,
}


def previous_model(filters=(32, 64), seed=None):
    """The previous recipe's network: conv → batch norm → ReLU → pool blocks, 32 filters first."""
    import keras
    from keras import layers

    from fmnist.model import FusedBatchNormalization

    blocks = []
    for number, width in enumerate(filters, start=1):
        blocks += [
            layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv_{number}"),
            FusedBatchNormalization(name=f"norm_{number}"),
            layers.ReLU(name=f"relu_{number}"),
            layers.MaxPooling2D(name=f"pool_{number}"),
        ]
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            *blocks,
            layers.Flatten(),
            layers.Dense(256, activation="relu", name="embedding"),
            layers.Dropout(0.2, seed=seed),
            layers.Dense(10, activation="softmax", dtype="float32", name="probabilities"),
        ]
    )


def earlier_network(model, seed: int, dropout: float = 0.2, drop=("views", "embedding")):
    """`model`, the recipe's network (`fmnist.recipe.build_model`), as the recipes before issue 48's fifth round
    built it: a dropout of `dropout` after the dense layer, and without the layers named in `drop` (by default
    the two that average each photo with its mirror)."""
    import keras

    network = []
    for layer in model.layers:
        if layer.name not in drop:
            network.append(layer)
        if layer.name == "dense" and dropout:
            network.append(keras.layers.Dropout(dropout, seed=seed, name="dropout"))
    return keras.Sequential([keras.Input(shape=model.input_shape[1:]), *network], name=model.name)


def random_shift(images, seed, max_shift=1):
    """The shift of up to `max_shift` pixels that the notebook used before Keras's preprocessing layers: pad
    with black, then cut each image's 28 × 28 window at a random offset drawn from `seed`."""
    import tensorflow as tf

    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    offsets = tf.random.stateless_uniform([2, batch], tf.stack([seed, 0]), maxval=2 * max_shift + 1, dtype="int32")
    rows = offsets[0][:, None] + tf.range(height)[None, :]
    columns = offsets[1][:, None] + tf.range(width)[None, :]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(images, columns, axis=2, batch_dims=1)


def seeded_dataset(images, targets, batch_size: int, seed: int, augment):
    """The earlier recipes' pipeline: `train.make_dataset` without augmentation, then `augment(batch, random
    seed)` on every batch, its seeds drawn from `seed` afresh each epoch."""
    import tensorflow as tf

    from fmnist import train

    dataset = train.make_dataset(images, targets, batch_size, shuffle_seed=seed)
    randomness = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip(dataset, randomness).map(lambda batch, draw: (augment(batch[0], draw), batch[1]))


def previous_augmentation(images, random_seed, max_shift=2, erase_probability=0.5, erase_sides=(4, 14)):
    """The previous recipe's augmentation: a random left-right flip, a shift of up to `max_shift` pixels, and
    with `erase_probability` a blanked rectangle whose sides lie in `erase_sides` (random erasing)."""
    import tensorflow as tf

    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.stack([random_seed, 0]), 3)
    flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
    images = random_shift(tf.where(flip, tf.reverse(images, axis=[2]), images), seeds[1][0], max_shift)
    draws = tf.random.stateless_uniform([5, batch, 1], seeds[2])
    smallest, largest = erase_sides
    sides = smallest + tf.floor(draws[1:3] * (largest - smallest + 1))  # rectangle height, width
    starts = tf.floor(draws[3:5] * (tf.constant([[[height]], [[width]]], "float32") - sides + 1))
    positions = tf.range(height, dtype="float32")[None, :]
    inside_rows = (positions >= starts[0]) & (positions < starts[0] + sides[0])
    inside_columns = (positions >= starts[1]) & (positions < starts[1] + sides[1])
    erase = (draws[0] < erase_probability)[:, :, None] & inside_rows[:, :, None] & inside_columns[:, None, :]
    return tf.where(erase[..., None], tf.zeros_like(images), images)


def seed_model():
    """The original project's plain CNN (225,034 parameters), the naive baseline."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax", dtype="float32"),
        ],
        name="seed_cnn",
    )


def seconds_per_epoch(network, inputs: tuple, epochs: int, **fit_arguments) -> float:
    """Fit `1 + epochs` epochs; return the seconds per epoch after the first (warm-up: tracing, tf.data cache)."""
    import keras

    times = []
    clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: times.append(time.perf_counter()))
    network.fit(*inputs, epochs=1 + epochs, verbose=0, callbacks=[clock], **fit_arguments)
    return (times[-1] - times[0]) / epochs


def measure_throughput(variant: str, epochs: int) -> dict:
    """Images per second of one variant, (a) "baseline", (b) "project" or (c) "notebook_model"."""
    import keras

    from fmnist import data, recipe, train

    train.make_deterministic(0)
    (images, labels), _ = data.load_data()
    x, y = data.scale_images(images[:55000]), keras.utils.to_categorical(labels[:55000])
    if variant == "baseline":
        network = seed_model()
        network.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        seconds = seconds_per_epoch(network, (x, y), epochs, batch_size=32)
    else:
        keras.mixed_precision.set_global_policy(train.precision_policy())
        network = seed_model() if variant == "project" else recipe.build_model(seed=0)
        augment = recipe.build_augmentation(seed=0) if variant == "notebook_model" else None
        dataset = train.make_dataset(x, y, 256, shuffle_seed=0, augment=augment)
        recipe.compile_model(network, (1 + epochs) * len(dataset))
        seconds = seconds_per_epoch(network, (dataset,), epochs, shuffle=False)
    return {"images_per_s": len(x) / seconds, "policy": keras.mixed_precision.global_policy().name}


def time_recipe_epochs(name: str, epochs: int, seed: int = 42) -> dict:
    """Seconds per training epoch of one recipe's model, pipeline and batch size, after a warm-up epoch.

    `name` is "previous" (`PREVIOUS_RECIPE`) or "project" (the notebook's, `fmnist.recipe`). Both are timed
    the same way, in the same benchmark run, so their ratio is fair.
    """
    import functools

    import keras

    from fmnist import data, recipe, train

    previous = PREVIOUS_RECIPE
    settings = previous if name == "previous" else {"epochs": recipe.EPOCHS, "batch_size": recipe.BATCH_SIZE}
    train.make_deterministic(seed)
    keras.mixed_precision.set_global_policy(train.precision_policy())
    (images, labels), _ = data.load_data()
    (x, y), _ = data.split_validation(
        data.scale_images(images), keras.utils.to_categorical(labels), recipe.VALIDATION_SIZE, seed
    )
    if name == "previous":
        augment = functools.partial(
            previous_augmentation, max_shift=previous["max_shift"], erase_probability=previous["erase_probability"]
        )
        network, optimizer = (
            previous_model(previous["filters"], seed),
            {key: previous[key] for key in ("learning_rate", "warmup_fraction", "weight_decay")},
        )
        dataset = seeded_dataset(x, y, settings["batch_size"], seed, augment)
    else:
        network, optimizer = recipe.build_model(seed=seed), {}
        dataset = train.make_dataset(
            x, y, settings["batch_size"], shuffle_seed=seed, augment=recipe.build_augmentation(seed)
        )
    recipe.compile_model(network, settings["epochs"] * len(dataset), **optimizer)
    per_epoch = seconds_per_epoch(network, (dataset,), epochs, shuffle=False)
    return {
        "seconds_per_epoch": per_epoch,
        "epochs": settings["epochs"],
        "train_seconds": per_epoch * settings["epochs"],
    }


def project_recipe() -> dict:
    """The notebook's default recipe, as the committed run recorded it."""
    return json.loads((ROOT / "reports" / "metrics.json").read_text())["recipe"]


def in_fresh_process(*arguments) -> dict:
    """Run this script's `--worker` with `arguments` in a new Python process; return its JSON answer."""
    onednn = "0" if arguments[1] == "baseline" else "1"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS=onednn)
    command = [sys.executable, "-m", "benchmarks.training", "--worker", *map(str, arguments)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def sgemm_gflops(size=2048, repeats=20) -> float:
    """Best-of-three float32 matrix-multiply throughput of numpy's BLAS."""
    import numpy as np

    a, b = np.ones((size, size), np.float32), np.ones((size, size), np.float32)
    a @ b
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def run_notebook(seed: int, folder: Path, precision: str | None = None) -> dict:
    """Execute the notebook with `SEED=seed` into `folder`, in `precision` if given (else the machine's choice,
    `train.precision_policy`); return its wall time and its metrics."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "papermill", "--log-level", "WARNING", "Fashion_MNIST_model_training.ipynb"]
    command += [str(folder / "notebook.ipynb"), "-p", "SEED", str(seed), "-p", "RESULTS_DIR", str(folder)]
    start = time.perf_counter()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **({"FMNIST_PRECISION": precision} if precision else {}))
    subprocess.run(command, cwd=ROOT, check=True, env=env)
    seconds = time.perf_counter() - start
    metrics = json.loads((folder / "reports" / "metrics.json").read_text())
    return {"notebook_seconds": seconds, **metrics}


def summary(values) -> dict:
    """Values, mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"values": values, "mean": statistics.mean(values), "std": spread}


def arguments_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per throughput variant and recipe")
    parser.add_argument("--seeds", type=int, nargs="*", default=[42, 43, 44], help="seeds of the notebook runs")
    parser.add_argument(
        "--committed-seed",
        action="store_true",
        help="count the committed run (reports/metrics.json) as its seed instead of executing it again",
    )
    parser.add_argument(
        "--float32-seeds",
        type=int,
        nargs="*",
        default=[],
        help="seeds of notebook runs forced to float32 (FMNIST_PRECISION), the path of CPUs without bfloat16",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "training_benchmark.json")
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "ARGUMENT"), help=argparse.SUPPRESS)
    return parser


def throughput(epochs: int) -> dict:
    """(a), (b) and (c) of the module's docstring, each in a fresh process, against the sgemm ceiling."""
    gflops = sgemm_gflops()
    baseline = in_fresh_process(epochs, "baseline")["images_per_s"]
    measured = in_fresh_process(epochs, "project")
    project, policy = measured["images_per_s"], measured["policy"]
    notebook_model = in_fresh_process(epochs, "notebook_model")["images_per_s"]
    ceiling = gflops * 1e9 / FLOPS_PER_IMAGE
    print(f"sgemm ceiling       {gflops:8.1f} GFLOP/s -> {ceiling:8.0f} images/s at {FLOPS_PER_IMAGE / 1e6:.0f} MFLOP")
    print(f"(a) naive baseline  {baseline:8.0f} images/s  ({baseline / ceiling:.0%} of the ceiling)")
    print(f"(b) project         {project:8.0f} images/s  ({project / ceiling:.0%} of the ceiling), {policy}")
    print(f"ratio b/a           {project / baseline:8.2f}")
    print(f"(c) notebook model  {notebook_model:8.0f} images/s  (with augmentation), {policy}")
    return {
        "machine": {"cpu_count": os.cpu_count(), "bfloat16": policy == "mixed_bfloat16"},
        "baseline_images_per_s": round(baseline),
        "project_images_per_s": round(project),
        "ratio": round(project / baseline, 3),
        "precision_policy": policy,
        "notebook_model_images_per_s": round(notebook_model),
        "sgemm_gflops": round(gflops, 1),
        "sgemm_ceiling_images_per_s": round(ceiling),
        "timed_epochs": epochs,
    }


def time_to_accuracy(epochs: int) -> dict:
    """The previous recipe's and this recipe's training time, from timed epochs in fresh processes."""
    previous = in_fresh_process("previous", epochs)
    current = in_fresh_process("project", epochs)
    ratio = previous["train_seconds"] / current["train_seconds"]
    for name, timing in (("previous recipe", previous), ("this recipe", current)):
        print(
            f"{name:<16} {timing['seconds_per_epoch']:6.1f} s/epoch × {timing['epochs']}"
            f" = {timing['train_seconds']:.0f} s"
        )
    print(f"time-to-accuracy ratio {ratio:.2f}")
    return {
        "target": TARGET_ACCURACY,
        "method": f"seconds per epoch after a warm-up epoch, {epochs} epochs timed, times the epochs",
        "previous_recipe_seconds": round(previous["train_seconds"], 1),
        "project_seconds": round(current["train_seconds"], 1),
        "ratio": round(ratio, 3),
        "previous_recipe": {**previous, "recipe": PREVIOUS_RECIPE},
        "project_recipe": {**current, "recipe": project_recipe()},
    }


def notebook_runs(seeds, committed_seed: bool, float32_seeds) -> dict:
    """The notebook executed per seed (and per float32 seed): accuracy, training time and wall time."""
    runs = {seed: run_notebook(seed, ROOT / "build" / "seeds" / str(seed)) for seed in seeds}
    if committed_seed:
        committed = json.loads((ROOT / "reports" / "metrics.json").read_text())
        runs = {committed["recipe"]["seed"]: committed, **runs}
    float32_runs = {
        seed: run_notebook(seed, ROOT / "build" / "seeds" / f"float32-{seed}", "float32") for seed in float32_seeds
    }
    for label, group in (("notebook", runs), ("notebook in float32", float32_runs)):
        for seed, run in group.items():
            wall = f", whole notebook {run['notebook_seconds']:.0f} s" if "notebook_seconds" in run else " (committed)"
            accuracy, training = run["test_accuracy"], run["train_seconds"]
            print(f"{label}, seed {seed}: test accuracy {accuracy:.4f}, training {training:.0f} s{wall}")
    executed = [run for run in runs.values() if "notebook_seconds" in run]
    return {
        "accuracy_seeds": {"seeds": list(runs), **summary(run["test_accuracy"] for run in runs.values())},
        "notebook_train_seconds": summary(run["train_seconds"] for run in runs.values()),
        "notebook_seconds": round(statistics.mean(run["notebook_seconds"] for run in executed), 1)
        if executed
        else None,
        "float32": {
            "seeds": list(float32_runs),
            "accuracy_seeds": summary(run["test_accuracy"] for run in float32_runs.values()),
            "notebook_train_seconds": summary(run["train_seconds"] for run in float32_runs.values()),
            "notebook_seconds": summary(run["notebook_seconds"] for run in float32_runs.values()),
        }
        if float32_runs
        else None,
    }


def main():
    arguments = arguments_parser().parse_args()
    if arguments.worker:
        task, argument = arguments.worker
        if task in ("previous", "project"):
            result = time_recipe_epochs(task, int(argument))
        else:
            result = measure_throughput(argument, int(task))
        print(json.dumps(result))
        return
    result = {
        **throughput(arguments.epochs),
        "time_to_accuracy": time_to_accuracy(arguments.epochs),
        **notebook_runs(arguments.seeds, arguments.committed_seed, arguments.float32_seeds),
    }
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
