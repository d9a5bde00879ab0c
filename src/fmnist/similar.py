"""Similar items: the model's embedding (the layer before the softmax), and how well it groups each class.

The catalogue that searches it, for the notebook and the API, is `fmnist.core.catalogue.Catalogue`; the search
itself (`normalize`, `top_k`) is `fmnist.core.search`.
"""

import numpy as np

from fmnist.core.search import top_k


def embedding_model(model, layer: str | None = None):
    """Return a Keras model mapping images to (embedding, class probabilities) in one forward pass.

    `layer` defaults to the project model's embedding layer, the one before the softmax.
    """
    from fmnist.model import EMBEDDING_LAYER, with_outputs  # here: importing this module loads no TensorFlow

    return with_outputs(model, [layer or EMBEDDING_LAYER])


def precision_at_k(index, k: int = 5, chunk: int = 1000) -> float:
    """Mean fraction of each item's k nearest other items that share its class, over a whole catalogue
    (`fmnist.core.catalogue.Catalogue`, or anything with unit-length `vectors` and `labels`)."""
    hits = 0
    for start in range(0, len(index), chunk):
        rows = slice(start, start + chunk)
        similarities = index.vectors[rows] @ index.vectors.T
        similarities[np.arange(similarities.shape[0]), np.arange(start, start + similarities.shape[0])] = -np.inf
        neighbours, _ = top_k(similarities, k)
        hits += (index.labels[neighbours] == index.labels[rows, None]).sum()
    return float(hits / (len(index) * k))
