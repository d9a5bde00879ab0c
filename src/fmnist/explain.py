"""Grad-CAM: which pixels pushed the model towards a class (Selvaraju et al., 2017; keras.io grad_cam)."""

import keras
import numpy as np
import tensorflow as tf

from fmnist.model import LAST_CONV_LAYER, inference_model


def gradcam_model(model: keras.Model, conv_layer: str = LAST_CONV_LAYER) -> keras.Model:
    """Return a model mapping images to (activations of `conv_layer`, class probabilities)."""
    return inference_model(model, also_output=(conv_layer,))


def gradcam(explainer: keras.Model, images, class_indices=None) -> np.ndarray:
    """Heatmaps in [0, 1] at image resolution, one per image, for `class_indices` (default: predicted).

    `explainer` comes from `gradcam_model`. The gradient of the class score with respect to the last
    convolution's output, averaged over space, weights its channels; ReLU keeps positive evidence only.
    """
    images = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    if images.shape.rank != 4:
        raise ValueError(f"expected a batch of images (n, height, width, channels), got shape {images.shape}")
    with tf.GradientTape() as tape:
        activations, probabilities = explainer(images, training=False)
        if class_indices is None:
            class_indices = tf.argmax(probabilities, axis=1)
        scores = tf.gather(probabilities, tf.cast(class_indices, tf.int32), axis=1, batch_dims=1)
    gradients = tape.gradient(scores, activations)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    heatmaps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
    heatmaps = tf.image.resize(heatmaps[..., tf.newaxis], images.shape[1:3], method="bilinear")[..., 0]
    peak = tf.reduce_max(heatmaps, axis=(1, 2), keepdims=True)
    return np.asarray(tf.math.divide_no_nan(heatmaps, peak))
