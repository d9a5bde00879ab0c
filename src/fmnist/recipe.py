"""The training recipe, generated from the notebook's cells tagged `recipe` by `python -m
fmnist.notebook_recipe` (`make run` runs it). Do not edit: edit the notebook, Fashion_MNIST_model_training.ipynb."""

import os
import time
from pathlib import Path
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import layers
from fmnist import CLASS_NAMES, data, evaluate, plots, train
from fmnist.model import FusedBatchNormalization

SEED = 42
EPOCHS = 20
BATCH_SIZE = 256
LEARNING_RATE = 6e-3
LABEL_SMOOTHING = 0.1
MAX_SHIFT = 1
VALIDATION_SIZE = 5_000
TRAIN_IMAGES = None
RESULTS_DIR = os.environ.get("FMNIST_RESULTS_DIR", ".")


def random_shift(images, seed, max_shift=MAX_SHIFT):
    # pad with black, then cut each image's 28 x 28 window at a random offset
    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    offsets = tf.random.stateless_uniform([2, batch], tf.stack([seed, 0]), maxval=2 * max_shift + 1, dtype="int32")
    rows = offsets[0][:, None] + tf.range(height)[None, :]
    columns = offsets[1][:, None] + tf.range(width)[None, :]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(images, columns, axis=2, batch_dims=1)


def build_model(filters=(32, 64), dense_units=256, dropout=0.2, seed=SEED):
    keras.utils.set_random_seed(seed)  # the same starting weights each time you build it
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1), name="image"),
        layers.Conv2D(filters[0], 3, padding="same", use_bias=False, name="conv_1"),
        layers.MaxPooling2D(name="pool_1"),
        FusedBatchNormalization(name="norm_1"),
        layers.ReLU(name="relu_1"),
        layers.Conv2D(filters[1], 3, padding="same", use_bias=False, name="conv_2"),
        layers.MaxPooling2D(name="pool_2"),
        FusedBatchNormalization(name="norm_2"),
        layers.ReLU(name="relu_2"),
        layers.Flatten(name="flatten"),
        layers.Dense(dense_units, activation="relu", name="embedding"),
        layers.Dropout(dropout, seed=seed, name="dropout"),
        layers.Dense(10, activation="softmax", dtype="float32", name="probabilities"),  # float32: sums to 1
    ], name="fashion_cnn")


def compile_model(model, total_steps, learning_rate=LEARNING_RATE, warmup_fraction=0.05, weight_decay=1e-4):
    warmup_steps = round(warmup_fraction * total_steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total_steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps
    )
    optimizer = keras.optimizers.Adam(learning_rate=schedule, weight_decay=weight_decay)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
