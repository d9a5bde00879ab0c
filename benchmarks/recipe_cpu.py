"""A recipe variant on this CPU, judged on the validation split: the second half of the time-to-94 % search.

    python -m benchmarks.recipe_cpu --seed 42 --epochs 20 [--clean-epochs 2] [--freeze-first] --tag "the recipe"

`benchmarks/recipe_sweep.py` ranked 61 variants on a borrowed GPU; this script runs the notebook's own
training cell (the package's model, `tf.data` pipeline, shifts, schedule and precision policy) on the CPU
for the few variants that fit the notebook's five minutes, and appends one JSON row per run to
`reports/recipe_cpu_runs.jsonl`: the validation accuracy of the float32 copy and the training seconds.
The test set is never loaded. `--freeze-first` tries airbench's whitening initialisation: the first
convolution's filters are fixed to ± the whitened directions of 3×3 training patches (the 9 eigenvectors,
then random ones), and that convolution and its batch norm are not trained.
"""

import argparse
import functools
import json
import os
import time
from pathlib import Path

from benchmarks import training
from benchmarks.machine import processor_name

REPORT = Path(__file__).resolve().parent.parent / "reports" / "recipe_cpu_runs.jsonl"


def whitening_filters(images, count: int, seed: int):
    """`count` 3×3 filters: ± the whitened eigen-directions of the images' 3×3 patches, then random directions."""
    import numpy as np

    patches = np.lib.stride_tricks.sliding_window_view(images[:5000, :, :, 0], (3, 3), axis=(1, 2)).reshape(-1, 9)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    directions = np.concatenate([np.eye(9), np.random.default_rng(seed).normal(size=(count // 2 - 9, 9))])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    filters = eigenvectors @ np.diag(1 / np.sqrt(eigenvalues + 1e-4)) @ directions.T
    return np.concatenate([filters, -filters], axis=1).reshape(3, 3, 1, count).astype("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dense", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=6e-3)
    parser.add_argument("--max-shift", type=int, default=1)
    parser.add_argument("--clean-epochs", type=int, default=0, help="the last epochs train without shifts")
    parser.add_argument("--freeze-first", action="store_true")
    parser.add_argument("--tag", required=True, help="the variant's name in the report")
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras

    import fmnist.model
    from fmnist import data, recipe, train

    train.make_deterministic(arguments.seed)
    policy = train.precision_policy()
    keras.mixed_precision.set_global_policy(policy)
    (images, labels), _ = data.load_data()
    (x_train, y_train), (x_val, y_val) = data.split_validation(
        data.scale_images(images), keras.utils.to_categorical(labels), 5000, arguments.seed
    )
    augment = functools.partial(training.random_shift, max_shift=arguments.max_shift)
    dataset = training.seeded_dataset(x_train, y_train, arguments.batch_size, arguments.seed, augment)
    model = recipe.build_model(dense_units=arguments.dense, seed=arguments.seed)
    if arguments.freeze_first:
        first = model.get_layer("conv_1")
        first.set_weights([whitening_filters(x_train, first.filters, arguments.seed)])
        first.trainable = model.get_layer("norm_1").trainable = False
    recipe.compile_model(model, arguments.epochs * len(dataset), learning_rate=arguments.learning_rate)
    start = time.perf_counter()
    shifted_epochs = arguments.epochs - arguments.clean_epochs
    model.fit(dataset, epochs=shifted_epochs, verbose=0, shuffle=False)
    if arguments.clean_epochs:  # the same images, reshuffled but not shifted
        clean = train.make_dataset(x_train, y_train, arguments.batch_size, shuffle_seed=arguments.seed)
        model.fit(clean, initial_epoch=shifted_epochs, epochs=arguments.epochs, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    _, accuracy = fmnist.model.float32_copy(model).evaluate(x_val, y_val, batch_size=1000, verbose=0)
    machine = f"{os.cpu_count()}-core {processor_name()}"
    row = {**vars(arguments), "machine": machine, "policy": policy, "train_seconds": round(seconds, 1)}
    row["val_accuracy"] = round(accuracy, 4)
    with REPORT.open("a") as report:
        report.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
