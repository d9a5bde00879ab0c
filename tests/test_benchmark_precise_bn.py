"""benchmarks/precise_bn.py: the batch norms' statistics recomputed exactly over a set of images."""

import keras
import numpy as np

from benchmarks import precise_bn
from fmnist import recipe


def test_precise_statistics_are_the_mean_and_variance_of_each_batch_norms_inputs():
    network = recipe.build_model(filters=(4, 8), dense_units=16, seed=0)
    images = np.random.default_rng(0).random((300, 28, 28, 1), dtype="float32")
    precise_bn.precise_statistics(network, images, batch_size=128)
    pooled = keras.Model(network.inputs[0], network.get_layer("pool_1").output)(images).numpy()
    np.testing.assert_allclose(network.get_layer("norm_1").moving_mean.numpy(), pooled.mean(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(
        network.get_layer("norm_1").moving_variance.numpy(), pooled.var(axis=(0, 1, 2)), rtol=1e-3
    )
    # the second block's inputs are computed with the first block's new statistics
    second = keras.Model(network.inputs[0], network.get_layer("pool_2").output)(images).numpy()
    np.testing.assert_allclose(network.get_layer("norm_2").moving_mean.numpy(), second.mean(axis=(0, 1, 2)), rtol=1e-4)
