"""Training configuration and the pieces of the training pipeline: determinism, tf.data, schedule."""

import dataclasses
import math

import keras
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run, defined once and passed in."""

    seed: int = 42
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05
    validation_size: int = 5000

    def __post_init__(self):
        for name in ("epochs", "batch_size", "validation_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def distribution_strategy() -> tf.distribute.Strategy:
    """Mirror over all GPUs when there are several; otherwise the default (no-op) strategy."""
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def make_dataset(images, targets, batch_size: int, shuffle_seed=None) -> tf.data.Dataset:
    """Return a cached, batched, prefetched `tf.data` pipeline; shuffled each epoch when seeded."""
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    """Linear warm-up from zero to `config.learning_rate`, then cosine decay to zero at the last step."""
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = math.ceil(config.warmup_fraction * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
    )


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam with decoupled weight decay on the warm-up + cosine schedule."""
    schedule = learning_rate_schedule(config, steps_per_epoch)
    return keras.optimizers.Adam(learning_rate=schedule, weight_decay=config.weight_decay)
