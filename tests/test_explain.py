import keras
import numpy as np
import pytest

from fmnist import explain, export, model


@pytest.fixture(scope="module")
def explainer():
    return model.build_model(filters=(4, 8), dense_units=16, seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 28, 28, 1), dtype="float32")


@pytest.mark.parametrize("method", list(explain.METHODS))
def test_every_method_gives_normalised_maps_of_image_shape(explainer, images, method):
    maps = explain.METHODS[method](explainer, images)
    assert maps.shape == (3, 28, 28)
    assert maps.min() >= 0
    for heatmap in maps:
        assert heatmap.max() == pytest.approx(1.0) or heatmap.max() == 0.0


@pytest.mark.parametrize("method", list(explain.METHODS))
def test_a_model_loaded_from_its_keras_file_gives_the_same_maps(explainer, images, method, tmp_path):
    explainer.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    compute = explain.METHODS[method]
    np.testing.assert_allclose(compute(loaded, images), compute(explainer, images), atol=1e-5)


def test_occlusion_explains_the_exported_tflite_model_like_keras(explainer, images, tmp_path):
    (tmp_path / "model.tflite").write_bytes(export.to_tflite(explainer))
    classifier = export.TFLiteClassifier(tmp_path / "model.tflite")
    from_tflite = explain.occlusion(lambda batch: classifier(batch)[1], images)
    np.testing.assert_allclose(from_tflite, explain.occlusion(explain.predictor(explainer), images), atol=1e-3)


def test_occlusion_finds_the_only_pixels_that_matter():
    # A "model" whose class-0 probability is the mean of the top-left 4×4 corner: only those pixels matter.
    def predict(batch):
        score = batch[:, :4, :4, 0].mean(axis=(1, 2))
        return np.stack([score, 1 - score], axis=1)

    heat = explain.occlusion(predict, np.ones((1, 28, 28, 1)), class_indices=[0])[0]
    assert heat[:4, :4].min() > 0 and heat[5:, :].max() == 0 and heat[:, 5:].max() == 0


@pytest.mark.parametrize("variant", ["gradcam", "hirescam"])
def test_a_different_target_class_gives_a_different_map(explainer, images, variant):
    maps = [explain.gradcam(explainer, images[:1], [label], variant=variant)[0] for label in range(10)]
    assert any(not np.allclose(maps[0], other) for other in maps[1:])


def test_pixel_methods_and_gated_gradcam_put_no_heat_on_the_black_background(explainer):
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, 8:20, 8:20] = 1
    maps = [explain.occlusion(explain.predictor(explainer), image), explain.integrated_gradients(explainer, image)]
    for heat in [*maps, explain.gradcam(explainer, image, gate=True)]:
        assert heat[0, :7].max() == 0 and heat[0, 21:].max() == 0  # occlusion's 2×2 patches reach one pixel out


def test_unknown_layer_and_wrong_rank_get_clear_errors(explainer):
    with pytest.raises(ValueError, match="no layer 'nope'"):
        explain.gradcam(explainer, np.zeros((1, 28, 28, 1)), layer="nope")
    with pytest.raises(ValueError, match="variant"):
        explain.gradcam(explainer, np.zeros((1, 28, 28, 1)), variant="gradcam++")
    for method in explain.METHODS.values():
        with pytest.raises(ValueError, match="batch of images"):
            method(explainer, np.zeros((28, 28, 1)))


def test_deletion_and_insertion_curves_follow_the_order():
    def predict(batch):  # class 0 is the share of lit pixels in the left half
        score = batch[:, :, :14, 0].mean(axis=(1, 2))
        return np.stack([score, 1 - score], axis=1)

    image = np.ones((1, 28, 28, 1), "float32")
    left_first = np.zeros((1, 28, 28))
    left_first[:, :, :14] = 1
    orders = explain.pixel_order(left_first)
    deletion = explain.deletion_curve(predict, image, orders, [0])[0]
    insertion = explain.deletion_curve(predict, image, orders, [0], insertion=True)[0]
    assert deletion[0] == 1 and deletion[10] == 0  # half of the pixels deleted: the whole left half
    assert insertion[0] == 0 and insertion[10] == 1
    assert np.all(np.diff(deletion) <= 0) and np.all(np.diff(insertion) >= 0)


def test_garment_share_of_a_uniform_map_is_the_garment_area():
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, :7] = 1  # a quarter of the image
    assert explain.garment_share(np.ones((1, 28, 28)), image)[0] == pytest.approx(0.25)
    assert set(explain.random_garment_orders(image)[0, : 7 * 28]) == set(range(7 * 28))


def test_rank_correlation_is_one_for_the_same_ranking_and_low_for_noise():
    maps = np.random.default_rng(0).random((5, 28, 28))
    np.testing.assert_allclose(explain.rank_correlation(maps, maps**2), 1)
    noise = np.random.default_rng(1).random((5, 28, 28))
    assert np.abs(explain.rank_correlation(maps, noise)).max() < 0.2
