"""Train the notebook's recipe (`fmnist.recipe`) on several machines with `tf.distribute.MultiWorkerMirroredStrategy`.

Start one process per worker, each with the same cluster in `TF_CONFIG` and its own task index:

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python -m fmnist.multiworker --steps 200 --output worker0.json

Each worker reads the training set, keeps its own shard (`AutoShardPolicy.DATA`), and the strategy averages
the gradients over the workers every step, so all workers hold the same weights. The global batch is the
per-worker batch times the number of workers. Each trains on the notebook's training split (its validation
images left out); `--images` keeps its first N (a quick check).
"""

import argparse
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402 - after the logging setting above
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fmnist import data, recipe, train  # noqa: E402


def weights_digest(weights) -> str:
    """SHA-256 of the weights, in order: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for weight in weights:
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def training_batches(strategy, images: int, global_batch: int, seed: int):
    """The notebook's training split, its first `images`, augmented and batched; each worker keeps its own
    shard (`AutoShardPolicy.DATA`). Return an endless iterator of distributed batches."""
    (train_images, train_labels), _ = data.load_data()
    (x, y), _ = data.split_validation(  # the notebook's split: its validation images are not trained on
        data.scale_images(train_images), keras.utils.to_categorical(train_labels), recipe.VALIDATION_SIZE, seed
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = (
        train.make_dataset(
            x[:images], y[:images], global_batch, shuffle_seed=seed, augment=recipe.build_augmentation(seed)
        )
        .repeat()
        .with_options(options)
    )
    return iter(strategy.experimental_distribute_dataset(dataset))


def training_step(strategy, network, global_batch: int):
    """One step of the custom loop, as a `tf.function` that returns the loss over the global batch: each replica
    averages its loss over the global batch, and the optimizer applies the gradients summed over the workers."""
    cross_entropy = network.loss.__class__.from_config({**network.loss.get_config(), "reduction": None})

    def replica_step(images, targets):
        with tf.GradientTape() as tape:
            losses = cross_entropy(targets, network(images, training=True))
            loss = tf.nn.compute_average_loss(losses, global_batch_size=global_batch)
        variables = network.trainable_variables
        network.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    return step


def run(steps: int, images: int, batch_per_worker: int, seed: int) -> dict:
    """Train for `steps` steps under MultiWorkerMirroredStrategy; return the losses and the weights' digest.

    A custom training loop, as in TensorFlow's multi-worker tutorial: Keras 3's `fit` does not accept this
    strategy (keras-team/keras#20585).
    """
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    train.make_deterministic(seed)
    global_batch = batch_per_worker * strategy.num_replicas_in_sync
    batches = training_batches(strategy, images, global_batch, seed)
    with strategy.scope():  # the notebook's network, optimizer and loss (`fmnist.recipe`)
        network = recipe.build_model(seed=seed)
        recipe.compile_model(network, steps)
        network.optimizer.build(network.trainable_variables)
    step = training_step(strategy, network, global_batch)
    losses = [float(step(next(batches))) for _ in range(steps)]
    return {
        "workers": strategy.num_replicas_in_sync,
        "task": json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}),
        "loss": losses,
        # trainable weights: kept identical by the all-reduce; the batch norms' moving statistics are each
        # worker's own (as with Keras's BatchNormalization unless synchronized=True)
        "trainable_weights_sha256": weights_digest(variable.numpy() for variable in network.trainable_variables),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    parser.add_argument("--images", type=int, default=55_000, help="the first N of the training split")
    parser.add_argument("--batch-per-worker", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, help="write the result as JSON here too")
    arguments = parser.parse_args(argv)
    if arguments.steps < 2:
        parser.error("--steps must be at least 2")
    result = run(arguments.steps, arguments.images, arguments.batch_per_worker, arguments.seed)
    print(json.dumps(result))
    if arguments.output:
        arguments.output.write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
