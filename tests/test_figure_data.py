"""What a figure draws, as the regression test compares it."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from fmnist import figure_data

matplotlib.use("Agg")


def test_large_arrays_are_summarised_and_small_ones_kept():
    assert figure_data.values([0.123456, 1]) == [0.1235, 1.0]
    summary = figure_data.values(np.full((28, 28), 0.5))
    assert summary["shape"] == [28, 28] and summary["mean"] == 0.5
    assert figure_data.values(np.full((28, 28), 0.5001))["sha1"] == summary["sha1"]  # equal to 3 decimals
    assert figure_data.values(np.full((28, 28), 0.6))["sha1"] != summary["sha1"]


def test_scatters_segments_colour_maps_legends_and_titles_are_recorded():
    figure, axis = plt.subplots()
    axis.scatter([0.1, 0.2], [0.3, 0.4], s=[5, 50], label="bins")
    axis.hlines(0.99, 0, 1, label="target")
    axis.imshow(np.zeros((2, 2)), cmap="bwr_r")
    axis.legend()
    figure.suptitle("how to read it")
    drawn = figure_data.drawn(figure)
    plt.close(figure)
    (recorded,) = drawn["axes"]
    assert recorded["marks"] == [[[0.1, 0.3, 5.0], [0.2, 0.4, 50.0]], [[0.0, 0.99], [1.0, 0.99]]]
    assert recorded["colormaps"] == ["bwr_r"] and recorded["legend"] == ["bins", "target"]
    assert drawn["titles"] == ["how to read it"]
