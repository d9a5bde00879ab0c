import numpy as np
import pytest

from fmnist import recipe, similar
from fmnist.core import catalogue


def items(vectors, labels) -> catalogue.Catalogue:
    """A catalogue of `vectors` (normalised) with these class labels, as the notebook builds one."""
    count = len(labels)
    ids = [f"item-{number}" for number in range(count)]
    return catalogue.from_embeddings(ids, ids, labels, np.zeros((count, 28, 28)), vectors)


def test_search_returns_the_most_similar_items_first():
    index = items([[1, 0], [0, 1], [1, 1], [-1, 0]], labels=[0, 1, 2, 3])
    rows, similarities = index.search([[2, 0.1]], k=3)
    assert index.ids[rows[0]].tolist() == ["item-0", "item-2", "item-1"]
    assert similarities[0, 0] == pytest.approx(np.cos(np.arctan(0.05)), rel=1e-5)
    assert np.all(np.diff(similarities[0]) <= 0)


def test_k_out_of_range_is_refused():
    index = items(np.eye(3), labels=[0, 1, 2])
    for k in (0, 4):
        with pytest.raises(ValueError, match="k must be between 1 and 3"):
            index.search(np.eye(3)[:1], k)


def test_precision_at_k_counts_same_class_neighbours_and_excludes_the_item_itself():
    clustered = items([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], labels=[0, 0, 1, 1])
    assert similar.precision_at_k(clustered, k=1) == 1.0
    crossed = items([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], labels=[0, 1, 0, 1])
    assert similar.precision_at_k(crossed, k=1) == 0.0
    assert similar.precision_at_k(clustered, k=3, chunk=3) == pytest.approx(1 / 3)


def test_embedding_model_gives_the_dense_layer_and_the_probabilities():
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    embeddings, probabilities = similar.embedding_model(network)(np.zeros((2, 28, 28, 1), dtype="float32"))
    assert embeddings.shape == (2, 16) and probabilities.shape == (2, 10)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="as many ids, titles, labels, thumbnails and vectors"):
        catalogue.from_embeddings(["a", "b", "c"], ["a", "b", "c"], [0, 1], np.zeros((3, 28, 28)), np.eye(3))


def test_the_test_images_are_named_by_number_and_class():
    ids, titles = catalogue.fashion_mnist_names([9, 0])
    assert ids == ["test-00000", "test-00001"] and titles == ["Ankle boot, test image 0", "T-shirt/top, test image 1"]
