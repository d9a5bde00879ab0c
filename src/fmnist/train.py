"""The pieces of the training pipeline that the notebook calls: determinism, precision, tf.data augmentation."""

import os
from pathlib import Path

import keras
import tensorflow as tf


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


# The notebook's training recipe (its parameters cell), for the code that trains outside the notebook
# (`fmnist.multiworker`); tests/test_train.py checks that the two stay the same.
RECIPE = {
    "epochs": 20,
    "batch_size": 256,
    "learning_rate": 6e-3,
    "warmup_fraction": 0.05,
    "weight_decay": 1e-4,
    "label_smoothing": 0.1,
    "max_shift": 1,
}
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The processor's feature flags: from /proc/cpuinfo on Linux, from py-cpuinfo (CPUID) elsewhere."""
    try:
        return set(cpuinfo.read_text().split())
    except OSError:
        import cpuinfo as py_cpuinfo

        return set(py_cpuinfo.get_cpu_info().get("flags", []))


def precision_policy(flags: set[str] | None = None) -> str:
    """The Keras dtype policy to train with: "mixed_bfloat16" where the CPU multiplies bfloat16 natively.

    On such CPUs (Intel AMX or AVX-512 BF16) oneDNN runs the layers in bfloat16 with float32 variables, about
    twice as fast; elsewhere bfloat16 would be emulated, slower, so training stays float32. `flags` defaults to
    `cpu_flags()`. $FMNIST_PRECISION ("float32" or "mixed_bfloat16") overrides the choice, e.g. to compare the two.
    """
    chosen = os.environ.get("FMNIST_PRECISION")
    if chosen:
        if chosen not in ("float32", "mixed_bfloat16"):
            raise ValueError(f"FMNIST_PRECISION must be float32 or mixed_bfloat16, got {chosen!r}")
        return chosen
    if tf.config.list_logical_devices("GPU"):
        return "float32"
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if flags.intersection(BFLOAT16_CPU_FLAGS) else "float32"


def adam_with_warmup_cosine(peak_learning_rate, warmup_fraction, weight_decay, total_steps):
    """Adam with decoupled weight decay on a linear warm-up to `peak_learning_rate` over `warmup_fraction` of
    the steps, then a cosine decay to zero: the notebook's optimizer, which a test compares with this one."""
    warmup_steps = round(warmup_fraction * total_steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )
    return keras.optimizers.Adam(learning_rate=schedule, weight_decay=weight_decay)


def compile_with_recipe(network, recipe: dict, total_steps: int) -> None:
    """Compile `network` as the notebook does: `adam_with_warmup_cosine` over `total_steps` steps and
    categorical cross-entropy with the recipe's label smoothing."""
    network.compile(
        optimizer=adam_with_warmup_cosine(
            recipe["learning_rate"], recipe["warmup_fraction"], recipe["weight_decay"], total_steps
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe["label_smoothing"]),
        metrics=["accuracy"],
    )


def random_shift(images, random_seed, max_shift: int = 1):
    """Shift each image of a batch by up to `max_shift` pixels up or down and left or right, filling with black.

    Vectorised over the batch with stateless random ops, so a run is reproducible, and done in the input
    pipeline: Keras's RandomFlip and RandomTranslation layers inside the model halved the training throughput.
    """
    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    seed = tf.stack([random_seed, 0])
    offsets = tf.random.stateless_uniform([2, batch], seed, maxval=2 * max_shift + 1, dtype=tf.int32)
    rows = offsets[0][:, None] + tf.range(height)[None, :]
    columns = offsets[1][:, None] + tf.range(width)[None, :]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(images, columns, axis=2, batch_dims=1)


def make_dataset(images, targets, batch_size: int, shuffle_seed=None, augment=None) -> tf.data.Dataset:
    """Return a cached, batched, prefetched `tf.data` pipeline.

    With `shuffle_seed` it reshuffles every epoch. `augment`, a function of (batch of images, random seed) such
    as `random_shift`, is applied to every training batch afresh each epoch, seeded from `shuffle_seed`.
    """
    if augment is not None and shuffle_seed is None:
        raise ValueError("augment needs a shuffle_seed: the augmentation is seeded from it")
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None:
        randomness = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip(dataset, randomness).map(
            lambda batch, random_seed: (augment(batch[0], random_seed), batch[1])
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
