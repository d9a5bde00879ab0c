"""The network's parts that the notebook's `build_model` (`fmnist.recipe`) uses, and the copies made of it: the
garment's framing, the fused batch normalization, the float32 copy that is evaluated and exported, extra
outputs for explanations."""

import keras
import tensorflow as tf
from keras import layers, ops

from fmnist.core.review import OUTLINE_FLOOR, OUTLINE_THRESHOLD

EMBEDDING_LAYER = "embedding"
LAST_CONV_LAYER = "conv_2"


@keras.saving.register_keras_serializable(package="fmnist")
class Frame(layers.Layer):
    """Each garment cropped to its outline, centred and enlarged to fill the square image, as Zalando prepared
    every Fashion-MNIST photo (trimmed, its longest edge scaled to the image's side); a garment that fills it
    already passes unchanged, so the dataset's own images do.

    The outline holds the pixels brighter than `threshold` × the image's brightest one, or than `floor` (light
    garment on dark; the floor keeps a dim garment's whole outline beside a bright print); an outline `full`
    pixels long or more fills the image. Bilinear, black outside the image, as
    `scipy.ndimage.affine_transform(..., order=1, mode="grid-constant")`. Computes in float32 under any precision
    policy. Noise on the background widens the outline, so a small garment in a noisy photo passes unchanged.
    """

    def __init__(self, threshold=OUTLINE_THRESHOLD, floor=OUTLINE_FLOOR, full=26, **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.threshold, self.floor, self.full = threshold, floor, full

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[1] != input_shape[2] or input_shape[3] != 1:
            raise ValueError(f"Frame takes square one-channel images (batch, side, side, 1), got {input_shape}")

    def call(self, images):
        from_rows, from_columns = self.sampling(images)
        return ops.matmul(ops.matmul(from_rows, images[..., 0]), ops.transpose(from_columns, (0, 2, 1)))[..., None]

    def sampling(self, images):
        """Per image, the bilinear weights (side × side) from the input's rows to the output's, and the same
        for its columns: framed = from_rows @ image @ from_columnsᵀ."""
        side = images.shape[1]
        levels = ops.convert_to_tensor(images, "float32")[..., 0]
        peak = ops.max(levels, axis=(1, 2), keepdims=True)
        outline = ops.logical_and(levels > ops.minimum(self.threshold * peak, self.floor), peak > 0)
        pixel = ops.arange(side, dtype="float32")
        middle = (side - 1) / 2

        def extent(present):  # the first and last row (or column) the outline reaches, per image
            first = ops.min(ops.where(present, pixel, side), axis=1)
            last = ops.max(ops.where(present, pixel, -1.0), axis=1)
            return first, last, last - first + 1

        top, bottom, height = extent(ops.any(outline, axis=2))
        left, right, width = extent(ops.any(outline, axis=1))
        length = ops.maximum(height, width)
        keep = ops.logical_or(length >= self.full, length <= 0)  # fills the image already, or is empty
        scale = ops.where(keep, 1.0, length / side)[:, None, None]
        rows = ops.where(keep, middle, (top + bottom) / 2)[:, None, None] + scale * (pixel - middle)[:, None]
        columns = ops.where(keep, middle, (left + right) / 2)[:, None, None] + scale * (pixel - middle)[:, None]
        # bilinear sampling as two matrices of weights: output row i takes input row k with 1 − |row(i) − k|
        return ops.relu(1 - ops.abs(rows - pixel)), ops.relu(1 - ops.abs(columns - pixel))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "floor": self.floor, "full": self.full}


@keras.saving.register_keras_serializable(package="fmnist")
class MirrorViews(layers.Layer):
    """At prediction, the batch of images followed by their mirrors (left to right): the network looks at each
    photo both ways, and `MeanOfViews` averages what it made of them. In training the images pass unchanged:
    the augmentation mirrors them already."""

    def call(self, images, training=False):
        return images if training else ops.concatenate([images, ops.flip(images, axis=2)], axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fmnist")
class MeanOfViews(layers.Layer):
    """At prediction, the mean of each photo's features and its mirror's, as `MirrorViews` stacked them (the
    photos, then their mirrors): it comes after a `MirrorViews`, never alone. In training the features pass
    unchanged."""

    def call(self, features, training=False):
        return features if training else ops.mean(ops.reshape(features, (2, -1, *features.shape[1:])), axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fmnist")
class FusedBatchNormalization(layers.Layer):
    """`keras.layers.BatchNormalization` over the channels of NHWC images, computed by TensorFlow's fused kernel.

    Same maths, defaults and variables as the Keras layer. Keras 3 builds its batch norm from separate moment,
    cast and element-wise ops, which dominate a training step on a CPU; the fused kernel is one op.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"FusedBatchNormalization takes (batch, height, width, channels), got {input_shape}")
        # float32 even under a mixed policy: the fused kernel takes float32 statistics for bfloat16 inputs
        shape, float32 = (input_shape[-1],), {"autocast": False, "dtype": "float32"}
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma", **float32)
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta", **float32)
        self.moving_mean = self.add_weight(
            shape=shape, initializer="zeros", name="moving_mean", trainable=False, **float32
        )
        self.moving_variance = self.add_weight(
            shape=shape, initializer="ones", name="moving_variance", trainable=False, **float32
        )

    def call(self, inputs, training=False):
        if not training:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance, self.epsilon, is_training=False
            )
            return outputs
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
        )
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], "float32")
        variance = variance * (count - 1) / count  # the kernel's is unbiased; Keras averages the biased one
        self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
        self.moving_variance.assign(self.momentum * self.moving_variance + (1 - self.momentum) * variance)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


def float32_copy(model: keras.Model) -> keras.Model:
    """The same model, weights and optimizer state with every layer computing in float32, and every
    `FusedBatchNormalization` a stock `keras.layers.BatchNormalization` holding its weights.

    Training may run in bfloat16 (`train.precision_policy`); evaluation, explanations and export use this copy,
    so they give the same numbers as the exported float32 models. Its `.keras` file opens with Keras once
    `fmnist.model` is imported (it defines `Frame`), and can resume training.
    """
    copy = keras.models.clone_model(model, clone_function=stock_float32_layer)
    copy.set_weights(model.get_weights())
    if getattr(model, "optimizer", None) is not None:  # compiled: carry its state over
        optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
        copy.compile(optimizer=optimizer, loss=model.loss, metrics=["accuracy"])
        optimizer.build(copy.trainable_variables)
        for ours, theirs in zip(optimizer.variables, model.optimizer.variables, strict=True):
            ours.assign(theirs)
    return copy


def stock_float32_layer(layer: layers.Layer) -> layers.Layer:
    """A new layer like `layer`, computing in float32; Keras's own batch norm for the fused one (same maths)."""
    if isinstance(layer, FusedBatchNormalization):
        return layers.BatchNormalization(
            momentum=layer.momentum, epsilon=layer.epsilon, name=layer.name, dtype="float32"
        )
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})


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
