"""The training recipe, generated from the notebook's cells tagged `recipe` by `make recipe`.

Do not edit: edit the notebook, Fashion_MNIST_model_training.ipynb."""

import os

import keras
from keras import layers

from fmnist import IMAGE_SHAPE, NUM_CLASSES
from fmnist.model import Frame, FusedBatchNormalization, MeanOfViews, MirrorViews

SEED = 42
EPOCHS = 20
BATCH_SIZE = 256
LEARNING_RATE = 6e-3
LABEL_SMOOTHING = 0.1
VALIDATION_SIZE = 5_000
TRAIN_IMAGES = None
RESULTS_DIR = os.environ.get("FMNIST_RESULTS_DIR", ".")


def build_augmentation(seed=SEED):
    mirror = layers.RandomFlip("horizontal", seed=seed)  # a shoe may point left or right
    shift = layers.RandomTranslation(1 / 28, 1 / 28, fill_mode="constant", seed=seed)  # by up to a pixel
    tilt = layers.RandomRotation(5 / 360, fill_mode="constant", seed=seed)  # by up to 5° either way
    return keras.Sequential([mirror, shift, tilt], name="augmentation")


def block(filters, number):  # a convolution, max pooling, batch normalization and ReLU
    convolve = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv_{number}")
    normalize = FusedBatchNormalization(name=f"norm_{number}")
    return [convolve, layers.MaxPooling2D(name=f"pool_{number}"), normalize, layers.ReLU(name=f"relu_{number}")]


def build_model(filters=(32, 64), dense_units=256, seed=SEED):
    keras.utils.set_random_seed(seed)  # the same starting weights each time you build it
    network = [
        keras.Input(shape=IMAGE_SHAPE, name="image"),
        MirrorViews(name="views"),  # when it answers: each photo, and its mirror after it
        Frame(name="frame"),  # the garment cropped and scaled to fill the image
        layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False, name="levels"),  # per image
        *block(filters[0], 1),
        *block(filters[1], 2),
        layers.Flatten(name="flatten"),
        layers.Dense(dense_units, activation="relu", name="dense"),
        MeanOfViews(name="embedding"),  # when it answers: the mean over the photo and its mirror
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities"),  # sums to 1
    ]
    return keras.Sequential(network, name="fashion_cnn")


def compile_model(model, total_steps, learning_rate=LEARNING_RATE, warmup_fraction=0.05, weight_decay=1e-4):
    warmup_steps = round(warmup_fraction * total_steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total_steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps
    )
    optimizer = keras.optimizers.Adam(learning_rate=schedule, weight_decay=weight_decay)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
