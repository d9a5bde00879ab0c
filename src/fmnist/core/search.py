"""Cosine similarity search over embeddings: unit-length rows, and each query's k best matches."""

import numpy as np


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
