import json

import numpy as np

from fmnist import CLASS_NAMES, evaluate


def test_write_metrics_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "reports" / "metrics.json"
    evaluate.write_metrics(path, {"test_accuracy": 0.5, "stale": 1})
    evaluate.write_metrics(path, {"test_accuracy": 0.9})
    assert json.loads(path.read_text()) == {"test_accuracy": 0.9}  # nothing of the earlier run is left
    assert [file.name for file in path.parent.iterdir()] == ["metrics.json"]


def test_most_confident_mistakes_come_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([1, 1, 1, 0])
    np.testing.assert_array_equal(evaluate.most_confident_mistakes(labels, probabilities), [0, 3, 2])


def test_each_confused_pair_counts_each_direction_from_the_predictions():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 10, 2000)
    predicted = np.where(rng.random(2000) < 0.3, rng.integers(0, 10, 2000), truth)
    for pair in evaluate.top_confusions(truth, predicted):
        first, second = (CLASS_NAMES.index(name) for name in pair["classes"])
        assert pair["as_second"] == np.sum((truth == first) & (predicted == second))  # a `first` taken for `second`
        assert pair["as_first"] == np.sum((truth == second) & (predicted == first))
        assert pair["images"] == pair["as_first"] + pair["as_second"]
