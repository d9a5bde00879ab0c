"""The lesson's whole training with its `FusedBatchNormalization`, and with Keras's `layers.BatchNormalization`
in its place, side by side: does the custom layer earn its place in the network a learner reads?

    python -m benchmarks.batch_norm_timing [--rounds 2] [--epochs 20]

Each run is the notebook's training (the package's recipe: augmentation, network, schedule, precision policy,
seed 42) in a process of its own, the two kinds alternating so that both see the same machine. It writes
reports/batch_norm_timing.json: every run's training seconds and validation accuracy, and the ratio of the
medians (stock over fused). The lesson keeps the custom layer only where it saves at least 15 % (issue 52).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.machine import processor_name

REPORT = Path(__file__).resolve().parent.parent / "reports" / "batch_norm_timing.json"
KINDS = ("fused", "stock")


def train_once(kind: str, epochs: int) -> dict:
    """One whole training of the notebook's recipe with `kind` batch norm; its seconds and validation accuracy."""
    import keras

    from fmnist import data, model, recipe, train

    (train_x, train_y), _ = data.load_data()
    x_all, y_all = data.scale_images(train_x), keras.utils.to_categorical(train_y)
    (x_train, y_train), (x_val, y_val) = data.split_validation(x_all, y_all, recipe.VALIDATION_SIZE, recipe.SEED)
    train.make_deterministic(recipe.SEED)
    keras.mixed_precision.set_global_policy(train.precision_policy())
    dataset = train.make_dataset(x_train, y_train, recipe.BATCH_SIZE, recipe.SEED, augment=recipe.build_augmentation())
    network = recipe.build_model()
    if kind == "stock":

        def stock(layer):
            if isinstance(layer, model.FusedBatchNormalization):
                return keras.layers.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon, name=layer.name)
            return layer.__class__.from_config(layer.get_config())

        network = keras.models.clone_model(network, clone_function=stock)
    recipe.compile_model(network, epochs * len(dataset))
    start = time.perf_counter()
    network.fit(dataset, epochs=epochs, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    _, accuracy = model.float32_copy(network).evaluate(x_val, y_val, batch_size=1000, verbose=0)
    return {
        "kind": kind,
        "epochs": epochs,
        "train_seconds": round(seconds, 1),
        "validation_accuracy": round(accuracy, 4),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)  # a child process: one run
    arguments = parser.parse_args(argv)
    if arguments.one:
        print(json.dumps(train_once(arguments.one, arguments.epochs)), flush=True)
        return
    runs = []
    for _ in range(arguments.rounds):
        for kind in KINDS:
            command = [sys.executable, "-m", "benchmarks.batch_norm_timing", "--one", kind]
            output = subprocess.run(command + ["--epochs", str(arguments.epochs)], check=True, capture_output=True)
            runs.append(json.loads(output.stdout.decode().strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    medians = {kind: statistics.median(run["train_seconds"] for run in runs if run["kind"] == kind) for kind in KINDS}
    report = {
        "command": "python -m benchmarks.batch_norm_timing " + " ".join(argv or sys.argv[1:]),
        "processor": processor_name(),
        "runs": runs,
        "median_seconds": medians,
        "stock_over_fused": round(medians["stock"] / medians["fused"], 3),
    }
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({key: report[key] for key in ("median_seconds", "stock_over_fused")}))


if __name__ == "__main__":
    main()
