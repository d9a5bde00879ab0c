"""The training pipeline's machinery that the notebook calls: determinism, precision, the tf.data pipeline.

The recipe itself (augmentation, network, optimizer and loss) is the notebook's, in `fmnist.recipe`."""

import os
from pathlib import Path

import keras
import tensorflow as tf


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


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
    return "mixed_bfloat16" if has_bfloat16_units(flags) else "float32"


def has_bfloat16_units(flags: set[str] | None = None) -> bool:
    """Whether the CPU (`flags`, default `cpu_flags()`) multiplies bfloat16 natively: Intel AMX or AVX-512 BF16."""
    return bool((cpu_flags() if flags is None else flags).intersection(BFLOAT16_CPU_FLAGS))


def make_dataset(images, targets, batch_size: int, shuffle_seed=None, augment=None) -> tf.data.Dataset:
    """Return a cached, batched, prefetched `tf.data` pipeline.

    With `shuffle_seed` it reshuffles every epoch. `augment`, a Keras layer such as the recipe's augmentation
    (`build_augmentation`), changes every training batch afresh each epoch, drawn from its own seeds: two runs
    draw the same changes.
    """
    if augment is not None and shuffle_seed is None:
        raise ValueError("augment is for training batches, which need a shuffle_seed")
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None:
        dataset = dataset.map(lambda batch, batch_targets: (augment(batch, training=True), batch_targets))
    return dataset.prefetch(tf.data.AUTOTUNE)
