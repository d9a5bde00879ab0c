"""Where a training step of the project's model spends its time: batch norm kind × precision.

    python benchmarks/step_time.py [--images 55000]

Times every training step of `fmnist.model.build_model` (batch 128, no augmentation, Adam with the project's
schedule) with Keras's `BatchNormalization` and with `FusedBatchNormalization`, in float32 and in
`mixed_bfloat16`, each in a fresh process after a warm-up epoch, and prints the median step time.
"""

import argparse

from training import run_fresh  # the sibling benchmark script

MEASURE = r"""
import json, sys, time
import keras, numpy as np
from fmnist import data, model, train
norm, policy, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
train.make_deterministic(0)
keras.mixed_precision.set_global_policy(policy)
(images, labels), _ = keras.datasets.fashion_mnist.load_data()
x, y = data.scale_images(images[:count]), data.one_hot(labels[:count])
network = model.build_model(seed=0)
if norm == "keras":
    network = keras.models.clone_model(
        network,
        clone_function=lambda layer: keras.layers.BatchNormalization(name=layer.name)
        if isinstance(layer, model.FusedBatchNormalization)
        else layer.__class__.from_config(layer.get_config()),
    )


class StepTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self.start)


config = train.TrainConfig(epochs=2)
dataset = train.make_dataset(x, y, config.batch_size, shuffle_seed=0)
network.compile(optimizer=train.make_optimizer(config, int(dataset.cardinality())), loss="categorical_crossentropy")
clock = StepTimes()
network.fit(dataset, epochs=2, verbose=0, shuffle=False, callbacks=[clock])  # the first epoch warms up
print(json.dumps({"median_ms": 1000 * float(np.median(clock.times))}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=55000, help="training images per epoch")
    arguments = parser.parse_args()
    print(f"{'batch norm':<12}{'float32':>10}{'mixed_bfloat16':>16}   (median ms per step, batch 128)")
    for norm in ("keras", "fused"):
        row = [
            run_fresh(MEASURE, norm, policy, arguments.images)["median_ms"] for policy in ("float32", "mixed_bfloat16")
        ]
        print(f"{norm:<12}{row[0]:>10.1f}{row[1]:>16.1f}")


if __name__ == "__main__":
    main()
