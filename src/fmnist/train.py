"""The pieces of the training pipeline that the notebook calls: determinism, precision, tf.data augmentation."""

import os
from pathlib import Path

import keras
import tensorflow as tf


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def precision_policy(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The Keras dtype policy to train with: "mixed_bfloat16" where the CPU multiplies bfloat16 natively.

    On such CPUs (Intel AMX or AVX-512 BF16) oneDNN runs the layers in bfloat16 with float32 variables:
    1.7× faster for this project's model here; elsewhere bfloat16 would be emulated, slower, so training
    stays float32.
    $FMNIST_PRECISION ("float32" or "mixed_bfloat16") overrides the choice, e.g. to compare the two.
    """
    chosen = os.environ.get("FMNIST_PRECISION")
    if chosen:
        if chosen not in ("float32", "mixed_bfloat16"):
            raise ValueError(f"FMNIST_PRECISION must be float32 or mixed_bfloat16, got {chosen!r}")
        return chosen
    if tf.config.list_logical_devices("GPU"):
        return "float32"
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return "float32"
    return "mixed_bfloat16" if flags.intersection(BFLOAT16_CPU_FLAGS) else "float32"


def augment_batch(images, random_seed, max_shift: int = 2, erase_probability: float = 0.5, erase_sides=(4, 14)):
    """Randomly flip each image left-right, shift it by up to `max_shift` pixels (zero fill), and with
    `erase_probability` blank out a rectangle whose sides lie in `erase_sides` (random erasing, Zhong et al.).

    Vectorised over the batch with stateless random ops, so a run is reproducible, and done in the input
    pipeline: Keras's RandomFlip + RandomTranslation layers inside the model halved the training throughput.
    """
    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.stack([random_seed, 0]), 3)
    flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
    images = tf.where(flip, tf.reverse(images, axis=[2]), images)
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    offsets = tf.random.stateless_uniform([2, batch], seeds[1], maxval=2 * max_shift + 1, dtype=tf.int32)
    rows = offsets[0][:, None] + tf.range(height)[None, :]
    columns = offsets[1][:, None] + tf.range(width)[None, :]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    images = tf.gather(images, columns, axis=2, batch_dims=1)
    if not erase_probability:
        return images
    draws = tf.random.stateless_uniform([5, batch, 1], seeds[2])
    smallest, largest = erase_sides
    sides = smallest + tf.floor(draws[1:3] * (largest - smallest + 1))  # rectangle height, width
    starts = tf.floor(draws[3:5] * (tf.constant([[[height]], [[width]]], "float32") - sides + 1))
    inside_rows = _between(tf.range(height, dtype="float32"), starts[0], starts[0] + sides[0])
    inside_columns = _between(tf.range(width, dtype="float32"), starts[1], starts[1] + sides[1])
    erase = (draws[0] < erase_probability)[:, :, None] & inside_rows[:, :, None] & inside_columns[:, None, :]
    return tf.where(erase[..., None], tf.zeros_like(images), images)


def _between(positions, starts, stops):
    """[batch, positions] mask of `starts <= position < stops`, with one start and stop per image."""
    return (positions[None, :] >= starts) & (positions[None, :] < stops)


def make_dataset(
    images, targets, batch_size: int, shuffle_seed=None, augment=False, erase_probability: float = 0.5
) -> tf.data.Dataset:
    """Return a cached, batched, prefetched `tf.data` pipeline.

    With `shuffle_seed` it reshuffles every epoch; with `augment` (which needs the seed) it also applies
    `augment_batch` to every training batch afresh each epoch.
    """
    if augment and shuffle_seed is None:
        raise ValueError("augment=True needs a shuffle_seed: the augmentation is seeded from it")
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment:
        randomness = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip(dataset, randomness).map(
            lambda batch, random_seed: (
                augment_batch(batch[0], random_seed, erase_probability=erase_probability),
                batch[1],
            )
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
