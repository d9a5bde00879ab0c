"""What a figure draws, as the regression test compares it."""

import numpy as np

from fmnist import figure_data


def test_large_arrays_are_summarised_and_small_ones_kept():
    assert figure_data.values([0.123456, 1]) == [0.1235, 1.0]
    summary = figure_data.values(np.full((28, 28), 0.5))
    assert summary["shape"] == [28, 28] and summary["mean"] == 0.5
    assert figure_data.values(np.full((28, 28), 0.5001))["sha1"] == summary["sha1"]  # equal to 3 decimals
    assert figure_data.values(np.full((28, 28), 0.6))["sha1"] != summary["sha1"]
