"""Grad-CAM: which pixels pushed the model towards a class (Selvaraju et al., 2017; keras.io grad_cam)."""

import keras
import numpy as np
import tensorflow as tf

from fmnist.model import LAST_CONV_LAYER


def gradcam(model: keras.Model, images, class_indices=None, conv_layer: str = LAST_CONV_LAYER) -> np.ndarray:
    """Heatmaps in [0, 1] at image resolution, one per image, for `class_indices` (default: predicted).

    As in keras.io's example, the gradient of the class logit (the score before the softmax) with respect to
    the last convolution's output, averaged over space, weights its channels; ReLU keeps positive evidence.
    """
    images = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    if images.shape.rank != 4:
        raise ValueError(f"expected a batch of images (n, height, width, channels), got shape {images.shape}")
    names = [layer.name for layer in model.layers]
    if conv_layer not in names:
        raise ValueError(f"the model has no layer {conv_layer!r}; its layers are {names}")
    *features, classifier = model.layers
    # Layer by layer rather than through a tapped functional model: that works on any copy of the network,
    # including one loaded from a .keras file, whose symbolic graph may not connect the tap to the output.
    with tf.GradientTape() as tape:
        hidden = images
        for layer in features:
            hidden = layer(hidden, training=False)
            if layer.name == conv_layer:
                activations = hidden
        logits = tf.matmul(tf.cast(hidden, classifier.kernel.dtype), classifier.kernel) + classifier.bias
        if class_indices is None:
            class_indices = tf.argmax(logits, axis=1)
        scores = tf.gather(logits, tf.cast(class_indices, tf.int32), axis=1, batch_dims=1)
    gradients = tf.cast(tape.gradient(scores, activations), "float32")
    activations = tf.cast(activations, "float32")
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    heatmaps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
    heatmaps = tf.image.resize(heatmaps[..., tf.newaxis], images.shape[1:3], method="bilinear")[..., 0]
    peak = tf.reduce_max(heatmaps, axis=(1, 2), keepdims=True)
    return np.asarray(tf.math.divide_no_nan(heatmaps, peak))
