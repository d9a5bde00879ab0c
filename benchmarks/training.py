"""Training throughput, side by side, and the test accuracy of the default configuration over seeds.

    python benchmarks/training.py [--epochs 3] [--seeds 42 43 44]

(a) the naive baseline: the original project's CNN, Keras defaults, NumPy arrays, batch size 32;
(b) the project's pipeline on the same CNN and the same work (no augmentation): oneDNN, the precision policy
    of `train.precision_policy` (bfloat16 compute where the CPU has AMX or AVX-512 BF16), tf.data (cache,
    reshuffle, prefetch), batch 128, Adam with the warm-up + cosine schedule;
(c) for reference, the notebook's own training: the project's model (fused batch norm) with augmentation.
Each variant runs in its own process (TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at import) and is timed
from the end of a warm-up epoch to the end of the last epoch of one `fit`. numpy's sgemm gives the machine's
ceiling. The accuracy over seeds comes from executing the notebook itself with papermill, so it is exactly
the default configuration. Figures go to stdout and to reports/training_benchmark.json.
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
FLOPS_PER_IMAGE = 16e6  # the seed CNN, forward and backward, about (see the README)

MEASURE = r"""
import json, sys, time
import keras
from fmnist import data, model, train
variant, epochs = sys.argv[1], int(sys.argv[2])
train.make_deterministic(0)
(images, labels), _ = keras.datasets.fashion_mnist.load_data()
x, y = data.scale_images(images[:55000]), data.one_hot(labels[:55000])


class EpochEnds(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter())


clock = EpochEnds()
if variant == "baseline":
    network = model.build_seed_model()
    network.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    network.fit(x, y, batch_size=32, epochs=1 + epochs, verbose=0, callbacks=[clock])
else:
    keras.mixed_precision.set_global_policy(train.precision_policy())
    network = model.build_seed_model() if variant == "project" else model.build_model(seed=0)
    config = train.TrainConfig(epochs=1 + epochs)
    dataset = train.make_dataset(x, y, config.batch_size, shuffle_seed=0, augment=variant == "notebook")
    network.compile(
        optimizer=train.make_optimizer(config, int(dataset.cardinality())),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    network.fit(dataset, epochs=config.epochs, verbose=0, shuffle=False, callbacks=[clock])
seconds = clock.times[-1] - clock.times[0]  # the first epoch warms up: tracing and the tf.data cache
print(json.dumps({"images_per_s": len(x) * epochs / seconds, "policy": keras.mixed_precision.global_policy().name}))
"""


def run_fresh(snippet: str, *arguments, onednn: bool = True) -> dict:
    """Run `snippet` with `arguments` in a new Python process and return the JSON of its last output line.

    A fresh process per measurement: TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at import, and Keras's
    dtype policy is global.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    if onednn:
        env["TF_ENABLE_ONEDNN_OPTS"] = "1"
    command = [sys.executable, "-c", snippet, *map(str, arguments)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
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


def seed_accuracy(seed: int, folder: Path) -> float:
    """Execute the notebook with `SEED=seed` into `folder` and return its test accuracy."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "papermill", "--log-level", "WARNING", "Fashion_MNIST_model_training.ipynb"]
    command += [str(folder / "notebook.ipynb"), "-p", "SEED", str(seed), "-p", "RESULTS_DIR", str(folder)]
    subprocess.run(command, cwd=ROOT, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return json.loads((folder / "reports" / "metrics.json").read_text())["test_accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per variant (after one warm-up)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[42, 43, 44], help="seeds of the accuracy runs")
    parser.add_argument("--output", default=str(ROOT / "reports" / "training_benchmark.json"))
    arguments = parser.parse_args()

    gflops = sgemm_gflops()
    baseline = run_fresh(MEASURE, "baseline", arguments.epochs, onednn=False)["images_per_s"]
    measured = run_fresh(MEASURE, "project", arguments.epochs)
    project, policy = measured["images_per_s"], measured["policy"]
    notebook = run_fresh(MEASURE, "notebook", arguments.epochs)["images_per_s"]
    ceiling = gflops * 1e9 / FLOPS_PER_IMAGE
    print(f"sgemm ceiling       {gflops:8.1f} GFLOP/s -> {ceiling:8.0f} images/s at {FLOPS_PER_IMAGE / 1e6:.0f} MFLOP")
    print(f"(a) naive baseline  {baseline:8.0f} images/s  ({baseline / ceiling:.0%} of the ceiling)")
    print(f"(b) project         {project:8.0f} images/s  ({project / ceiling:.0%} of the ceiling), {policy}")
    print(f"ratio b/a           {project / baseline:8.2f}")
    print(f"(c) notebook model  {notebook:8.0f} images/s  (fused batch norm, augmentation), {policy}")

    accuracies = {seed: seed_accuracy(seed, ROOT / "build" / "seeds" / str(seed)) for seed in arguments.seeds}
    for seed, accuracy in accuracies.items():
        print(f"seed {seed}: test accuracy {accuracy:.4f}")
    values = list(accuracies.values())
    summary = {}
    if values:
        summary = {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
        print(f"mean {summary['mean']:.4f} ± {summary['std']:.4f} over {len(values)} seeds")

    result = {
        "baseline_images_per_s": round(baseline),
        "project_images_per_s": round(project),
        "ratio": round(project / baseline, 3),
        "precision_policy": policy,
        "notebook_model_images_per_s": round(notebook),
        "sgemm_gflops": round(gflops, 1),
        "sgemm_ceiling_images_per_s": round(ceiling),
        "baseline_fraction_of_ceiling": round(baseline / ceiling, 3),
        "project_fraction_of_ceiling": round(project / ceiling, 3),
        "timed_epochs": arguments.epochs,
        "accuracy_seeds": {"per_seed": {str(k): v for k, v in accuracies.items()}, **summary},
    }
    Path(arguments.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
