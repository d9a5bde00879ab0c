"""The two-convolution CNN: Conv → Pool → Conv → Pool → Flatten → Dense(ReLU) → Dense(softmax)."""

import keras
from keras import layers

from fmnist import IMAGE_SHAPE, NUM_CLASSES

EMBEDDING_LAYER = "embedding"
LAST_CONV_LAYER = "conv_2"


def build_model(
    input_shape=IMAGE_SHAPE,
    num_classes=NUM_CLASSES,
    filters=(32, 64),
    dense_units=128,
    dropout=0.5,
    augment=True,
    seed=None,
) -> keras.Model:
    """Return the project's CNN; `augment` adds random flips and shifts that act only in training."""
    if len(filters) != 2:
        raise ValueError(f"the model has exactly two convolution blocks, got filters={filters}")
    augmentation = [
        layers.RandomFlip("horizontal", seed=seed, name="random_flip"),
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed, name="random_shift"),
    ]
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            *(augmentation if augment else []),
            layers.Conv2D(filters[0], 3, padding="same", use_bias=False, name="conv_1"),
            layers.BatchNormalization(name="norm_1"),
            layers.ReLU(name="relu_1"),
            layers.MaxPooling2D(name="pool_1"),
            layers.Conv2D(filters[1], 3, padding="same", use_bias=False, name=LAST_CONV_LAYER),
            layers.BatchNormalization(name="norm_2"),
            layers.ReLU(name="relu_2"),
            layers.MaxPooling2D(name="pool_2"),
            layers.Flatten(name="flatten"),
            layers.Dense(dense_units, activation="relu", name=EMBEDDING_LAYER),
            layers.Dropout(dropout, seed=seed, name="dropout"),
            layers.Dense(num_classes, activation="softmax", name="probabilities"),
        ],
        name="fashion_cnn",
    )


def build_seed_model(input_shape=IMAGE_SHAPE, num_classes=NUM_CLASSES) -> keras.Model:
    """Return the original project's plain CNN (225k parameters), the benchmark's naive baseline."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="seed_cnn",
    )


def inference_model(model: keras.Model, also_output=()) -> keras.Model:
    """The same network, sharing its weights, without the augmentation layers (identities at inference).

    The outputs of the layers named in `also_output` come first, then the probabilities.
    """
    inputs = keras.Input(shape=model.input_shape[1:])
    outputs, taps = inputs, {}
    for layer in model.layers:
        if not isinstance(layer, layers.RandomFlip | layers.RandomTranslation):
            outputs = taps[layer.name] = layer(outputs)
    missing = [name for name in also_output if name not in taps]
    if missing:
        raise ValueError(f"the model has no layer {missing[0]!r}; its layers are {list(taps)}")
    if not also_output:
        return keras.Model(inputs, outputs, name=f"{model.name}_inference")
    return keras.Model(inputs, [taps[name] for name in also_output] + [outputs], name=f"{model.name}_inference")
