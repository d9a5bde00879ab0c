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
    dense_units=256,
    dropout=0.2,
    seed=None,
) -> keras.Model:
    """Return the project's CNN (augmentation happens in the input pipeline, `train.make_dataset`)."""
    if len(filters) != 2:
        raise ValueError(f"the model has exactly two convolution blocks, got filters={filters}")
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
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


def with_outputs(model: keras.Model, layer_names) -> keras.Model:
    """A model sharing `model`'s weights that returns the named layers' outputs, then the probabilities."""
    names = [layer.name for layer in model.layers]
    missing = [name for name in layer_names if name not in names]
    if missing:
        raise ValueError(f"the model has no layer {missing[0]!r}; its layers are {names}")
    return keras.Model(model.inputs[0], [model.get_layer(name).output for name in layer_names] + model.outputs)


def describe_layers(model: keras.Model) -> list[dict]:
    """Name, output shape (without the batch axis) and parameter count of every layer, for reports."""
    return [
        {
            "name": layer.name,
            "output_shape": "×".join(str(size) for size in layer.output.shape[1:]),
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]
