"""Which pixels pushed the model towards a class, and how faithful each answer is.

Methods (each returns maps in [0, 1], one per image, 28 × 28, for the predicted class unless told otherwise):
- `occlusion`: blank a small patch, see how much the class probability drops (Zeiler & Fergus, 2014).
  It needs only predictions, so it also explains the exported TFLite model behind the API
  (`fmnist.core.occlusion`, which the API imports without this module).
- `integrated_gradients`: gradients along the path from a black image (Sundararajan et al., 2017).
- `gradcam`: a convolution block's channels weighted by their gradient (Selvaraju et al., 2017), in the
  HiResCAM variant that measured most faithful here.

Faithfulness (Petsiuk et al., 2018): blank the pixels a map ranks highest and measure how much the class
probability drops (`deletion_curve`), against blanking random garment pixels; and the sanity check of Adebayo
et al. (2018): maps of a model with random weights must not look like the trained model's (`rank_correlation`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from fmnist.core.occlusion import image_batch, occlusion, scale_to_peak

if TYPE_CHECKING:
    import keras
    import tensorflow as tf
# TensorFlow loads inside the gradient methods only: the API explains with `occlusion` on its TFLite model
# and starts in a second without TensorFlow.

GARMENT_THRESHOLD = 0.1  # a pixel brighter than this (on the 0-1 scale) belongs to the garment
DELETION_FRACTIONS = np.arange(21) / 20  # share of the 784 pixels blanked (or inserted) at each step


def as_batch(images) -> tf.Tensor:
    import tensorflow as tf

    return tf.convert_to_tensor(image_batch(images))


def forward(model: keras.Model, images: tf.Tensor, tap: str | None = None):
    """Class logits (scores before the softmax) and the output of layer `tap`, layer by layer.

    Layer by layer rather than through a tapped functional model: that works on any copy of the network,
    including one loaded from a .keras file, whose symbolic graph may not connect a tap to the output.
    """
    names = [layer.name for layer in model.layers]
    if tap is not None and tap not in names:
        raise ValueError(f"the model has no layer {tap!r}; its layers are {names}")
    import tensorflow as tf

    *features, classifier = model.layers
    hidden, tapped = images, None
    for layer in features:
        hidden = layer(hidden, training=False)
        if layer.name == tap:
            tapped = hidden
    logits = tf.matmul(tf.cast(hidden, classifier.kernel.dtype), classifier.kernel) + classifier.bias
    return logits, tapped


def predictor(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """Probabilities for a batch of images, for `occlusion` and the faithfulness measures."""
    return lambda images: np.asarray(model(as_batch(images), training=False), dtype="float32")


def integrated_gradients(model: keras.Model, images, class_indices=None, steps: int = 32) -> np.ndarray:
    """Integrated gradients of the class probability from a black image (the background) to the image.

    The attributions of an image sum to p(image) − p(black), so they say which pixels the probability rests
    on; the map keeps the positive ones.
    """
    import tensorflow as tf

    images = as_batch(images)
    if class_indices is None:
        class_indices = tf.argmax(forward(model, images)[0], axis=1)
    class_indices = tf.cast(class_indices, tf.int32)
    alphas = (tf.range(steps, dtype="float32") + 0.5) / steps  # midpoint rule
    total = tf.zeros_like(images)
    for alpha in alphas:
        path = alpha * images
        with tf.GradientTape() as tape:
            tape.watch(path)
            probabilities = tf.nn.softmax(forward(model, path)[0])
            scores = tf.gather(probabilities, class_indices, axis=1, batch_dims=1)
        total += tf.cast(tape.gradient(scores, path), "float32")
    return scale_to_peak((images * total / steps)[..., 0])


def gradcam(
    model: keras.Model, images, class_indices=None, layer: str = "relu_2", variant: str = "hirescam"
) -> np.ndarray:
    """Grad-CAM at `layer`, upsampled to the image; by default the variant that measured most faithful.

    `variant="gradcam"` is keras.io's Grad-CAM: the gradient of the class logit with respect to the layer's
    output, averaged over space, weights its channels. `"hirescam"` (Draelos & Carin, 2020) multiplies gradient
    and activation at each position before summing the channels, so the map keeps where the evidence lies.
    HiResCAM at `relu_2` (the second block's 7 × 7 output) is the default: docs/explanations.md compares them.
    """
    if variant not in ("gradcam", "hirescam"):
        raise ValueError(f'variant must be "gradcam" or "hirescam", got {variant!r}')
    import tensorflow as tf

    images = as_batch(images)
    with tf.GradientTape() as tape:
        logits, activations = forward(model, images, tap=layer)
        if class_indices is None:
            class_indices = tf.argmax(logits, axis=1)
        scores = tf.gather(logits, tf.cast(class_indices, tf.int32), axis=1, batch_dims=1)
    gradients = tf.cast(tape.gradient(scores, activations), "float32")
    if variant == "gradcam":
        gradients = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    heatmaps = tf.nn.relu(tf.reduce_sum(gradients * tf.cast(activations, "float32"), axis=-1))
    heatmaps = tf.image.resize(heatmaps[..., tf.newaxis], images.shape[1:3], method="bilinear")[..., 0]
    from fmnist.model import Frame, MirrorViews

    views = any(isinstance(part, MirrorViews) for part in model.layers)
    seen = tf.concat([images, tf.reverse(images, axis=[2])], axis=0) if views else images  # as the network saw them
    for frame in (part for part in model.layers if isinstance(part, Frame)):
        # the map lies over the framed garment: carry it back onto the image
        from_rows, from_columns = frame.sampling(seen)
        heatmaps = tf.matmul(tf.matmul(from_rows, heatmaps, transpose_a=True), from_columns)
    if views:  # the mirror's map, mirrored back, adds to the photo's own
        heatmaps = heatmaps[: len(images)] + tf.reverse(heatmaps[len(images) :], axis=[2])
    return scale_to_peak(heatmaps)


METHODS = {
    "occlusion": lambda model, images, labels=None: occlusion(predictor(model), images, labels),
    "integrated_gradients": integrated_gradients,
    "gradcam": gradcam,
}
DEFAULT_METHOD = "occlusion"


def pixel_order(maps, seed: int = 0) -> np.ndarray:
    """Pixel indexes (flattened) from the highest map value to the lowest; ties in a random order."""
    maps = np.asarray(maps, dtype="float64").reshape(len(maps), -1)
    jitter = np.random.default_rng(seed).random(maps.shape)
    return np.lexsort((jitter, -maps), axis=1)


def deletion_curve(predict: Callable, images, orders, class_indices) -> np.ndarray:
    """Class probability (n images × len(DELETION_FRACTIONS)) as pixels are blanked in `orders` order."""
    images = image_batch(images)
    n, pixels = len(images), images[0].size
    flat = images.reshape(n, -1)
    curve = np.zeros((n, len(DELETION_FRACTIONS)), "float32")
    for step, fraction in enumerate(DELETION_FRACTIONS):
        count = int(round(fraction * pixels))
        chosen = np.zeros((n, pixels), bool)
        np.put_along_axis(chosen, orders[:, :count], True, axis=1)
        changed = np.where(chosen, 0, flat)
        curve[:, step] = predict(changed.reshape(images.shape))[np.arange(n), class_indices]
    return curve


def deletion_drop(curves, fraction: float = 0.1) -> float:
    """Mean drop of the class probability once `fraction` of the pixels are blanked, from `deletion_curve`."""
    step = list(DELETION_FRACTIONS).index(fraction)
    return float((curves[:, 0] - curves[:, step]).mean())


def garment_mask(images) -> np.ndarray:
    """Which pixels of each image (flattened) belong to the garment."""
    return np.asarray(images).reshape(len(images), -1) > GARMENT_THRESHOLD


def random_garment_orders(images, seed: int = 0) -> np.ndarray:
    """The baseline ranking: garment pixels in a random order, then the background in a random order."""
    return pixel_order(garment_mask(images).astype("float32"), seed)
