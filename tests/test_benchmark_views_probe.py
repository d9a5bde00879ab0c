"""The probe of tilted views at prediction time (`benchmarks.views_probe`, docs/robustness.md)."""

import keras
import numpy as np
import pytest

from benchmarks import views_probe
from fmnist.model import EMBEDDING_LAYER, MeanOfViews, MirrorViews


def network_with_views():
    """A tiny network built as the recipe's is around its embedding: each photo looked at with its mirror."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            MirrorViews(name="views"),
            keras.layers.Flatten(),
            keras.layers.Dense(8, "relu"),
            MeanOfViews(name=EMBEDDING_LAYER),
            keras.layers.Dense(10, "softmax", name="probabilities"),
        ]  # fmt: skip
    )


def test_no_tilt_answers_as_the_network_does_and_a_tilt_averages_three_looks():
    network = network_with_views()
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    as_it_is = views_probe.TiltedViews(network, 0).predict(images, batch_size=4)
    assert as_it_is == pytest.approx(network.predict(images, verbose=0), abs=1e-6)

    embed = keras.Model(network.inputs, network.get_layer(EMBEDDING_LAYER).output)
    looks = [embed.predict(views_probe.tilted(images, angle), verbose=0) for angle in (0, 5, -5)]
    expected = keras.ops.convert_to_numpy(network.get_layer("probabilities")(np.mean(looks, axis=0)))
    tilted = views_probe.TiltedViews(network, 5).predict(images, batch_size=4)
    assert tilted == pytest.approx(expected, abs=1e-6) and not np.allclose(tilted, as_it_is)


def test_tilted_views_answer_a_photo_and_its_mirror_alike():
    # the mirror of a photo tilted by +t is the mirrored photo tilted by -t: the six looks are the same six
    images = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    views = views_probe.TiltedViews(network_with_views(), 5)
    answers, mirrored = (views.predict(batch, batch_size=4) for batch in (images, images[:, :, ::-1]))
    assert answers == pytest.approx(mirrored, abs=1e-5)


def test_a_tilt_turns_each_picture_about_its_centre_and_leaves_zero_untouched():
    pictures = np.zeros((2, 28, 28, 1), dtype="float32")
    pictures[0, 3:6, 10:18] = 1  # a bar near the top
    pictures[1, 20, 4] = 1
    assert views_probe.tilted(pictures, 0) is pictures
    quarter = views_probe.tilted(pictures, 90)
    assert quarter == pytest.approx(np.rot90(pictures, axes=(1, 2)), abs=1e-5)
    assert views_probe.tilted(pictures, 5).sum() == pytest.approx(pictures.sum(), rel=0.05)  # nothing lost
