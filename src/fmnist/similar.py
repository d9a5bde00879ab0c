"""Similar items: the model's embedding (the layer before the softmax), cosine similarity and its quality.

The catalogue that searches it, for the notebook and the API, is `fmnist.catalogue.Catalogue`.
"""

import numpy as np


def embedding_model(model, layer: str | None = None):
    """Return a Keras model mapping images to (embedding, class probabilities) in one forward pass.

    `layer` defaults to the project model's embedding layer, the one before the softmax.
    """
    from fmnist.model import EMBEDDING_LAYER, with_outputs  # here: the catalogue's search needs no TensorFlow

    return with_outputs(model, [layer or EMBEDDING_LAYER])


def normalize(vectors) -> np.ndarray:
    """Scale each row to unit length so that a dot product is the cosine similarity."""
    vectors = np.asarray(vectors, dtype="float32")
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def top_k(similarities: np.ndarray, k: int):
    """(columns, values) of each row's k largest similarities, each (n, k), largest first."""
    top = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
    top_similarities = np.take_along_axis(similarities, top, axis=1)
    order = np.argsort(-top_similarities, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_similarities, order, axis=1)


def precision_at_k(index, k: int = 5, chunk: int = 1000) -> float:
    """Mean fraction of each item's k nearest other items that share its class, over a whole catalogue
    (`fmnist.catalogue.Catalogue`, or anything with unit-length `vectors` and `labels`)."""
    hits = 0
    for start in range(0, len(index), chunk):
        rows = slice(start, start + chunk)
        similarities = index.vectors[rows] @ index.vectors.T
        similarities[np.arange(similarities.shape[0]), np.arange(start, start + similarities.shape[0])] = -np.inf
        neighbours = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        hits += (index.labels[neighbours] == index.labels[rows, None]).sum()
    return float(hits / (len(index) * k))
