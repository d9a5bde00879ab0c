"""Grad-CAM: which pixels pushed the model towards a class (Selvaraju et al., 2017; keras.io grad_cam)."""

import keras
import numpy as np
import tensorflow as tf

from fmnist.model import EMBEDDING_LAYER, LAST_CONV_LAYER, with_outputs


def gradcam(model: keras.Model, images, class_indices=None, conv_layer: str = LAST_CONV_LAYER) -> np.ndarray:
    """Heatmaps in [0, 1] at image resolution, one per image, for `class_indices` (default: predicted).

    As in keras.io's example, the gradient of the class logit (the score before the softmax) with respect to
    the last convolution's output, averaged over space, weights its channels; ReLU keeps positive evidence.
    """
    images = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    if images.shape.rank != 4:
        raise ValueError(f"expected a batch of images (n, height, width, channels), got shape {images.shape}")
    taps = with_outputs(model, [conv_layer, EMBEDDING_LAYER])
    classifier = model.layers[-1]
    with tf.GradientTape() as tape:
        activations, embeddings, probabilities = taps(images, training=False)
        logits = tf.matmul(embeddings, classifier.kernel) + classifier.bias
        if class_indices is None:
            class_indices = tf.argmax(probabilities, axis=1)
        scores = tf.gather(logits, tf.cast(class_indices, tf.int32), axis=1, batch_dims=1)
    gradients = tape.gradient(scores, activations)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    heatmaps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
    heatmaps = tf.image.resize(heatmaps[..., tf.newaxis], images.shape[1:3], method="bilinear")[..., 0]
    peak = tf.reduce_max(heatmaps, axis=(1, 2), keepdims=True)
    return np.asarray(tf.math.divide_no_nan(heatmaps, peak))
