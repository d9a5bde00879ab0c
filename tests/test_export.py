import numpy as np
import pytest

from fmnist import export, recipe


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    network = recipe.build_model(filters=(4, 8), dense_units=16, seed=0)
    return network, export.export_all(network, tmp_path_factory.mktemp("export"))


def test_every_format_is_written(exported):
    _, paths = exported
    assert paths["keras"].is_file() and (paths["saved_model"] / "saved_model.pb").is_file()
    assert paths["tflite"].stat().st_size > paths["tflite_int8"].stat().st_size > 0


def test_exported_models_agree_with_keras(exported):
    network, paths = exported
    images = np.random.default_rng(0).random((64, 28, 28, 1), dtype="float32")
    report = export.parity(network, paths, images, labels=np.zeros(64, dtype=int))
    for name in ("saved_model", "tflite"):
        assert report[name]["argmax_agreement"] >= 0.999, report
        assert report[name]["max_abs_probability_difference"] < 1e-4, report
    assert report["tflite_int8"]["max_abs_probability_difference"] < 0.1, report


def test_tflite_classifier_returns_embeddings_and_probabilities_for_any_batch(exported):
    _, paths = exported
    classifier = export.TFLiteClassifier(paths["tflite"])
    for batch in (1, 5, 1):
        embeddings, probabilities = classifier(np.zeros((batch, 28, 28, 1), dtype="float32"))
        assert embeddings.shape == (batch, 16) and probabilities.shape == (batch, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_the_keras_file_loads_in_safe_mode(exported):
    import keras

    _, paths = exported
    loaded = keras.saving.load_model(paths["keras"], safe_mode=True)
    assert loaded.count_params() == exported[0].count_params()
