"""Precise batch norm, judged by docs/training.md's protocol: paired seeds on the validation split only.

    python -m benchmarks.precise_bn --seeds 101 102 103 104 105 106 107 108

For each seed it trains the notebook's recipe once (`fmnist.recipe`: the notebook's model, shifts, optimizer
and precision policy), takes the float32 copy that is evaluated and exported, and measures its validation
accuracy twice: as trained (the batch norms' moving averages, gathered in bfloat16 on shifted images), and
after recomputing every batch norm's statistics exactly, in float32, over the unshifted training images
("precise BN", first block first, since the second block's inputs depend on the first's statistics). The
gain of a seed is the second accuracy minus the first; the change is adopted only when the mean gain exceeds
twice its standard error. The test set is never loaded. Writes reports/recipe_precise_bn.json.
"""

import argparse
import json
import os
import statistics
from pathlib import Path

from benchmarks.machine import processor_name

REPORT = Path(__file__).resolve().parent.parent / "reports" / "recipe_precise_bn.json"


def precise_statistics(network, images, batch_size: int = 1000) -> None:
    """Set each batch norm's moving mean and variance to the exact ones of its inputs over `images`."""
    import keras
    import numpy as np

    for layer in network.layers:
        if not layer.name.startswith("norm_"):
            continue
        inputs = keras.Model(network.inputs[0], network.layers[network.layers.index(layer) - 1].output)
        total, squares, count = 0.0, 0.0, 0
        for start in range(0, len(images), batch_size):
            values = inputs(images[start : start + batch_size], training=False).numpy().astype("float64")
            flat = values.reshape(-1, values.shape[-1])
            total, squares, count = total + flat.sum(axis=0), squares + (flat**2).sum(axis=0), count + len(flat)
        mean = total / count
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(np.maximum(squares / count - mean**2, 0).astype("float32"))


def one_seed(seed: int) -> dict:
    """Train the recipe with `seed`; the validation accuracy as trained and with precise batch norm."""
    import keras

    from fmnist import data, model, recipe, train

    train.make_deterministic(seed)
    keras.mixed_precision.set_global_policy(train.precision_policy())
    (images, labels), _ = data.load_data()
    (x, y), (x_val, y_val) = data.split_validation(
        data.scale_images(images), keras.utils.to_categorical(labels), recipe.VALIDATION_SIZE, recipe.SEED
    )
    dataset = train.make_dataset(x, y, recipe.BATCH_SIZE, shuffle_seed=seed, augment=recipe.build_augmentation(seed))
    network = recipe.build_model(seed=seed)
    recipe.compile_model(network, recipe.EPOCHS * len(dataset))
    network.fit(dataset, epochs=recipe.EPOCHS, verbose=0, shuffle=False)
    served = model.float32_copy(network)
    as_trained = served.evaluate(x_val, y_val, batch_size=1000, verbose=0)[1]
    precise_statistics(served, x)
    precise = served.evaluate(x_val, y_val, batch_size=1000, verbose=0)[1]
    print(f"seed {seed}: validation {as_trained:.4f} as trained, {precise:.4f} with precise BN", flush=True)
    return {"as_trained": round(as_trained, 4), "precise_bn": round(precise, 4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(101, 109)))
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    runs = {seed: one_seed(seed) for seed in arguments.seeds}
    gains = [run["precise_bn"] - run["as_trained"] for run in runs.values()]
    mean = statistics.mean(gains)
    error = statistics.stdev(gains) / len(gains) ** 0.5 if len(gains) > 1 else float("nan")
    report = {
        "change": "precise batch-norm statistics (float32, unshifted training images) after training",
        "split": "validation (5,000 images, seed 42)",
        "processor": processor_name(),
        "runs": runs,
        "gain": {"mean": round(mean, 5), "standard_error": round(error, 5), "seeds": len(gains)},
        "adopted": bool(mean > 2 * error),
    }
    print(json.dumps(report["gain"]), "adopted" if report["adopted"] else "not adopted")
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
