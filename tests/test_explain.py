import keras
import numpy as np
import pytest

from fmnist import explain, export, recipe


@pytest.fixture(scope="module")
def explainer():
    return recipe.build_model(filters=(4, 8), dense_units=16, seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 28, 28, 1), dtype="float32")


@pytest.mark.parametrize("method", list(explain.METHODS))
def test_every_method_gives_normalised_maps_of_image_shape(explainer, images, method):
    maps = explain.METHODS[method](explainer, images)
    assert maps.shape == (3, 28, 28)
    assert maps.min() >= 0
    for heatmap in maps:  # random images: every method finds some pixel that matters
        assert heatmap.max() == pytest.approx(1.0)
        assert np.count_nonzero(heatmap) > 10


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


@pytest.mark.parametrize("variant", ["gradcam", "hirescam"])
def test_gradcam_lies_over_a_small_garment_where_it_is_in_the_image_not_where_the_network_framed_it(explainer, variant):
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, 3:13, 15:22, 0] = np.random.default_rng(1).uniform(0.3, 1.0, (10, 7))  # small, top right
    heat = explain.gradcam(explainer, image, variant=variant)[0]
    around = np.zeros((28, 28), bool)
    around[2:14, 13:24] = True  # the square Frame enlarged (10 × 10 around the garment), and the pixel beyond
    assert heat[around].max() == pytest.approx(1.0) and heat[~around].max() == 0


def test_pixel_methods_put_no_heat_on_the_black_background(explainer):
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, 8:20, 8:20] = 1
    maps = [explain.occlusion(explain.predictor(explainer), image), explain.integrated_gradients(explainer, image)]
    for heat in maps:
        assert heat[0, :7].max() == 0 and heat[0, 21:].max() == 0  # occlusion's 2×2 patches reach one pixel out
        assert heat[0, 8:20, 8:20].max() == pytest.approx(1.0)


def test_unknown_layer_and_wrong_rank_get_clear_errors(explainer):
    with pytest.raises(ValueError, match="no layer 'nope'"):
        explain.gradcam(explainer, np.zeros((1, 28, 28, 1)), layer="nope")
    with pytest.raises(ValueError, match="variant"):
        explain.gradcam(explainer, np.zeros((1, 28, 28, 1)), variant="gradcam++")
    for method in explain.METHODS.values():
        with pytest.raises(ValueError, match="batch of images"):
            method(explainer, np.zeros((28, 28, 1)))


def left_half_predictor(batch):
    """A model whose class 0 is the share of lit pixels in the left half."""
    score = batch[:, :, :14, 0].mean(axis=(1, 2))
    return np.stack([score, 1 - score], axis=1)


def test_the_deletion_curve_follows_the_order():
    image = np.ones((1, 28, 28, 1), "float32")
    left_first = np.zeros((1, 28, 28))
    left_first[:, :, :14] = 1
    deletion = explain.deletion_curve(left_half_predictor, image, explain.pixel_order(left_first), [0])[0]
    assert deletion[0] == 1 and deletion[10] == 0  # half of the pixels deleted: the whole left half
    assert np.all(np.diff(deletion) <= 0)
    assert explain.deletion_drop(deletion[None]) == pytest.approx(78 / 392)  # 10 % of 784 pixels, of the half


def test_random_garment_orders_rank_the_garment_first():
    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, :7] = 1  # a quarter of the image
    assert set(explain.random_garment_orders(image)[0, : 7 * 28]) == set(range(7 * 28))


def test_gradcam_of_a_mirrored_photo_is_the_photos_map_mirrored(explainer, images):
    """The network looks at each photo and its mirror and averages: a photo and its mirror get one answer, and
    their maps are each other's mirror images."""
    maps, mirrored = (explain.gradcam(explainer, batch) for batch in (images, images[:, :, ::-1]))
    np.testing.assert_allclose(mirrored, maps[:, :, ::-1], atol=1e-4)
