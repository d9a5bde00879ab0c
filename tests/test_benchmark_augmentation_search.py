"""The fifth round's prediction (`benchmarks.augmentation_search.mirror_averaged`, docs/robustness.md)."""

import keras
import numpy as np
import pytest

from benchmarks import augmentation_search


def test_the_mirror_averaged_network_answers_a_photo_and_its_mirror_alike():
    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    averaged = augmentation_search.mirror_averaged(network)
    answers, mirrored = (averaged.predict(batch, verbose=0) for batch in (images, images[:, :, ::-1]))
    expected = (network.predict(images, verbose=0) + network.predict(images[:, :, ::-1], verbose=0)) / 2
    assert answers == pytest.approx(expected, abs=1e-6) and answers == pytest.approx(mirrored, abs=1e-6)
    assert not np.allclose(network.predict(images, verbose=0), expected)  # the network alone is not invariant


def test_averaging_the_embeddings_gives_one_answer_a_photo_for_a_network_without_views():
    keras.utils.set_random_seed(0)
    earlier = keras.Sequential(  # as the search's networks were: the dense layer named `embedding`, no views
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(8, "relu", name="embedding"),
            keras.layers.Dense(10, "softmax"),
        ]  # fmt: skip
    )
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    averaged = augmentation_search.mirror_averaged(earlier, over="embedding")
    answers, mirrored = (averaged.predict(batch, verbose=0) for batch in (images, images[:, :, ::-1]))
    assert answers.shape == (4, 10) and answers == pytest.approx(mirrored, abs=1e-6)
    with pytest.raises(ValueError, match="without views"):
        augmentation_search.mirror_averaged(averaged, over="embedding")
