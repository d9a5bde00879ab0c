import keras
import numpy as np
import pytest

from fmnist import explain, model


@pytest.fixture(scope="module")
def explainer():
    return model.build_model(filters=(4, 8), dense_units=16, seed=0)


def test_heatmaps_have_image_shape_and_are_normalised(explainer):
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype="float32")
    heatmaps = explain.gradcam(explainer, images)
    assert heatmaps.shape == (3, 28, 28)
    assert heatmaps.min() >= 0
    for heatmap in heatmaps:
        assert heatmap.max() == pytest.approx(1.0) or heatmap.max() == 0.0


def test_a_different_target_class_gives_a_different_map(explainer):
    image = np.random.default_rng(1).random((1, 28, 28, 1), dtype="float32")
    maps = [explain.gradcam(explainer, image, class_indices=[label])[0] for label in range(10)]
    assert any(not np.allclose(maps[0], other) for other in maps[1:])


def test_unknown_layer_and_wrong_rank_get_clear_errors(explainer):
    with pytest.raises(ValueError, match="no layer 'nope'"):
        explain.gradcam(explainer, np.zeros((1, 28, 28, 1)), conv_layer="nope")
    with pytest.raises(ValueError, match="batch of images"):
        explain.gradcam(explainer, np.zeros((28, 28, 1)))


def test_a_model_loaded_from_its_keras_file_gives_the_same_maps(explainer, tmp_path):
    explainer.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    images = np.random.default_rng(2).random((4, 28, 28, 1), dtype="float32")
    np.testing.assert_allclose(explain.gradcam(loaded, images), explain.gradcam(explainer, images), atol=1e-6)
