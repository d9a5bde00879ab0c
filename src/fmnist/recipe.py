"""The training recipe, generated from the notebook's cells tagged `recipe` by `make recipe`.

Do not edit: edit the notebook, Fashion_MNIST_model_training.ipynb."""

import os

import keras
from keras import layers

from fmnist import IMAGE_SHAPE, NUM_CLASSES
from fmnist.model import Frame, FusedBatchNormalization

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
    return keras.Sequential([mirror, shift], name="augmentation")


def build_model(filters=(32, 64), dense_units=256, dropout=0.2, seed=SEED):
    keras.utils.set_random_seed(seed)  # the same starting weights each time you build it
    network = [
        keras.Input(shape=IMAGE_SHAPE, name="image"),
        Frame(name="frame"),  # the garment cropped and scaled to fill the image
        layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False, name="levels"),  # per image
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
