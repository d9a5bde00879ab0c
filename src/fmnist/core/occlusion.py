"""Occlusion maps (Zeiler & Fergus, 2014): which pixels a prediction rests on, from predictions alone.

Blank a small patch and see how much the class probability drops. It needs nothing but a function from images
to probabilities, so it explains the exported TFLite model behind the API as well as the Keras model
(`fmnist.explain`, which adds the gradient methods).
"""

from collections.abc import Callable

import numpy as np


def image_batch(images) -> np.ndarray:
    """`images` as a float32 batch (n, height, width, channels); `ValueError` for any other shape."""
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images (n, height, width, channels), got shape {images.shape}")
    return images


def scale_to_peak(maps) -> np.ndarray:
    """Keep the positive evidence and scale each map to a peak of 1 (an all-zero map stays zero)."""
    maps = np.maximum(np.asarray(maps, dtype="float32"), 0)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)


def patch_masks(height: int, width: int, patch: int, stride: int) -> np.ndarray:
    """One mask (height, width) per patch position, True where the patch blanks the image."""
    masks = []
    for top in range(0, height - patch + 1, stride):
        for left in range(0, width - patch + 1, stride):
            mask = np.zeros((height, width), bool)
            mask[top : top + patch, left : left + patch] = True
            masks.append(mask)
    return np.stack(masks)


BLACK = 0.0  # Fashion-MNIST's background


def occlusion(predict: Callable, images, class_indices=None, patch: int = 2, stride: int = 1, fill=BLACK) -> np.ndarray:
    """Average drop of the class probability when a `patch` × `patch` square covering the pixel is blanked:
    set to `fill`, the background (Fashion-MNIST's black; a photo's own colour, one value per channel).

    `predict` maps a batch of images to probabilities: `explain.predictor(model)` for a Keras model, or the
    API's TFLite classifier. A 28 × 28 image has 729 patches of 2 × 2; each that touches the garment takes one
    prediction. Of the patches tried on 200 training images (1 to 4 pixels, stride 1 or 2), 2 × 2 ranked the
    pixels whose deletion hurts the prediction most (`benchmarks/explanations.py`).
    """
    images = image_batch(images)
    n, height, width, _ = images.shape
    probabilities = predict(images)
    if class_indices is None:
        class_indices = probabilities.argmax(axis=1)
    class_indices = np.asarray(class_indices, dtype=int)
    patches = patch_masks(height, width, patch, stride)
    drops = np.zeros((n, height, width), "float32")
    starts = probabilities[np.arange(n), class_indices]
    for image, label, start, drop in zip(images, class_indices, starts, drops, strict=True):
        # Blanking a patch that is already all background changes nothing: its drop is 0, with no prediction
        # (predicting it would give rounding noise, since the batch differs from the one `start` came from).
        changes = (patches & (image != fill).any(axis=-1)).any(axis=(1, 2))
        scores = np.zeros(len(patches), "float32")
        if changes.any():
            occluded = np.where(patches[changes][..., np.newaxis], fill, image).astype("float32")
            scores[changes] = start - predict(occluded)[:, label]
        drop[:] = np.tensordot(scores, patches, axes=1)
    return scale_to_peak(drops / patches.sum(axis=0))
