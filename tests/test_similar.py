import numpy as np
import pytest

from fmnist import model, similar


def test_query_returns_the_most_similar_items_first():
    index = similar.EmbeddingIndex.build([[1, 0], [0, 1], [1, 1], [-1, 0]], labels=[0, 1, 2, 3], ids=[10, 11, 12, 13])
    rows, similarities = index.query([[2, 0.1]], k=3)
    assert index.ids[rows[0]].tolist() == [10, 12, 11]
    assert similarities[0, 0] == pytest.approx(np.cos(np.arctan(0.05)), rel=1e-5)
    assert np.all(np.diff(similarities[0]) <= 0)


def test_k_out_of_range_is_refused():
    index = similar.EmbeddingIndex.build(np.eye(3), labels=[0, 1, 2])
    for k in (0, 4):
        with pytest.raises(ValueError, match="k must be between 1 and 3"):
            index.query(np.eye(3)[:1], k)


def test_precision_at_k_counts_same_class_neighbours_and_excludes_the_item_itself():
    clustered = similar.EmbeddingIndex.build([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], labels=[0, 0, 1, 1])
    assert similar.precision_at_k(clustered, k=1) == 1.0
    crossed = similar.EmbeddingIndex.build([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], labels=[0, 1, 0, 1])
    assert similar.precision_at_k(crossed, k=1) == 0.0
    assert similar.precision_at_k(clustered, k=3, chunk=3) == pytest.approx(1 / 3)


def test_embedding_model_gives_the_dense_layer_and_the_probabilities():
    network = model.build_model(filters=(4, 8), dense_units=16)
    embeddings, probabilities = similar.embedding_model(network)(np.zeros((2, 28, 28, 1), dtype="float32"))
    assert embeddings.shape == (2, 16) and probabilities.shape == (2, 10)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="must match"):
        similar.EmbeddingIndex.build(np.eye(3), labels=[0, 1])
