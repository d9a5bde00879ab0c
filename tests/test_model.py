import inspect
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from fmnist import IMAGE_SHAPE, NUM_CLASSES, explain, recipe
from fmnist import model as model_module


def test_the_network_takes_a_28_by_28_grey_image_and_gives_a_probability_for_each_class():
    model = recipe.build_model()
    assert tuple(model.input_shape) == (None, *IMAGE_SHAPE)
    assert model.inputs[0].name == "image"  # the exported models' input (`runtime.INPUT`)
    probabilities = np.asarray(model(np.random.default_rng(0).random((3, *IMAGE_SHAPE), dtype="float32")))
    assert probabilities.shape == (3, NUM_CLASSES) and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_the_layers_that_the_exports_and_the_explanations_name_are_there():
    """A learner may add, remove or widen layers; these names and kinds of output are what the rest relies on."""
    model = recipe.build_model()
    embedding = model.get_layer(model_module.EMBEDDING_LAYER).output  # the catalogue's vectors, exported
    assert len(embedding.shape) == 2  # one vector per image
    for name in (model_module.LAST_CONV_LAYER, inspect.signature(explain.gradcam).parameters["layer"].default):
        assert len(model.get_layer(name).output.shape) == 4  # a map over the image, for Grad-CAM
    assert model.outputs[0] is model.get_layer("probabilities").output


def test_with_outputs_returns_the_named_layers_then_the_probabilities():
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    activations, embedding, probabilities = model_module.with_outputs(network, ["conv_2", "embedding"])(
        np.zeros((2, 28, 28, 1), dtype="float32")
    )
    # a convolution sees each photo and its mirror; the embedding is their mean, one row a photo
    assert activations.shape == (4, 14, 14, 8) and embedding.shape == (2, 16) and probabilities.shape == (2, 10)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        model_module.with_outputs(network, ["nope"])


def test_fused_batch_norm_computes_what_keras_batch_norm_computes():
    images = np.random.default_rng(0).normal(2, 3, (8, 5, 5, 4)).astype("float32")
    weights = [np.random.default_rng(1).uniform(0.5, 1.5, 4).astype("float32") for _ in range(4)]
    reference, fused = keras.layers.BatchNormalization(), model_module.FusedBatchNormalization()
    for layer in (reference, fused):
        layer.build(images.shape)
        layer.set_weights(weights)
    for training in (True, False, True):  # training also updates the moving statistics
        np.testing.assert_allclose(fused(images, training=training), reference(images, training=training), atol=1e-5)
    for ours, theirs in zip(fused.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert not np.allclose(fused.moving_mean.numpy(), weights[2])
    with pytest.raises(ValueError, match="height, width, channels"):
        model_module.FusedBatchNormalization().build((8, 4))


@pytest.fixture
def bfloat16_policy():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_float32_copy_of_a_bfloat16_model_has_the_same_weights_and_float32_layers(bfloat16_policy):
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    assert network.get_layer("conv_1").compute_dtype == "bfloat16"
    assert network.get_layer("norm_1").variable_dtype == "float32"
    assert network.layers[-1].compute_dtype == "float32"  # the softmax
    copy = model_module.float32_copy(network)
    assert {layer.compute_dtype for layer in copy.layers} == {"float32"}
    for ours, theirs in zip(copy.get_weights(), network.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    images = np.random.default_rng(2).random((4, 28, 28, 1), dtype="float32")
    np.testing.assert_allclose(copy(images), network(images), atol=0.02)  # bfloat16 keeps ~3 digits
    taps = model_module.with_outputs(copy, ["conv_2"])  # the copy's graph is whole: Grad-CAM can tap it
    assert taps(images)[0].shape == (8, 14, 14, 8)  # each photo and its mirror


def test_float32_copy_keeps_the_optimizer_so_its_saved_file_resumes_training(tmp_path, bfloat16_policy):
    images = np.random.default_rng(3).random((16, 28, 28, 1), dtype="float32")
    targets = np.eye(10, dtype="float32")[np.arange(16) % 10]
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    network.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True), loss="categorical_crossentropy")
    network.fit(images, targets, batch_size=8, epochs=1, verbose=0)
    copy = model_module.float32_copy(network)
    copy.save(tmp_path / "model.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Skipping variable loading for optimizer"
        loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer, keras.optimizers.Adam) and int(loaded.optimizer.iterations) == 2
    for ours, theirs in zip(loaded.optimizer.variables, network.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    loaded.fit(images, targets, batch_size=8, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 4


LOAD_IN_A_NEW_PROCESS = """
import sys, keras, numpy as np
import fmnist.model  # defines Frame
model = keras.models.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
"""


@pytest.mark.slow
def test_the_saved_float32_copy_opens_in_a_new_process_and_gives_the_same_probabilities(tmp_path, bfloat16_policy):
    """A user loads the exported `.keras` file in a Python of their own (a subprocess)."""
    images = np.random.default_rng(4).random((8, 28, 28, 1), dtype="float32")
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    network.compile(optimizer="adam", loss="categorical_crossentropy")
    network.fit(images, np.eye(10, dtype="float32")[np.arange(8)], epochs=1, verbose=0)  # moving statistics move
    copy = model_module.float32_copy(network)
    copy.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)
    command = [sys.executable, "-c", LOAD_IN_A_NEW_PROCESS, tmp_path / "model.keras", tmp_path / "images.npy"]
    completed = subprocess.run([*command, tmp_path / "out.npy"], cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), copy.predict(images, verbose=0), atol=1e-6)
    np.testing.assert_allclose(copy(images), network(images), atol=0.02)  # the fused layer's maths, in float32


def garment(rows=28, columns=18):
    """A shaded garment light on black whose longest edge spans `rows` pixels, centred in 28 × 28."""
    picture = np.zeros((28, 28), "float32")
    top, left = (28 - rows) // 2, (28 - columns) // 2
    shading = np.linspace(0.5, 1.0, rows)[:, None] * np.linspace(1.0, 0.6, columns)[None, :]
    picture[top : top + rows, left : left + columns] = shading
    return picture


def framed(pictures) -> np.ndarray:
    return np.asarray(model_module.Frame()(np.asarray(pictures, "float32")[..., None]))[..., 0]


def test_frame_leaves_a_garment_that_fills_the_image_and_an_empty_image_as_they_are():
    pictures = np.stack([garment(), garment(26, 26), np.roll(garment(27, 10), 1, axis=1), np.zeros((28, 28))])
    np.testing.assert_array_equal(framed(pictures), pictures)


def test_frame_enlarges_a_garment_photographed_small_back_to_the_size_of_the_dataset():
    from scipy import ndimage

    original = garment()
    centre = np.array([13.5, 13.5])
    small = ndimage.affine_transform(original, np.eye(2) / 0.6, centre - centre / 0.6, order=1)  # zoomed out 0.6×
    off_centre = np.roll(small, (-4, 5), axis=(0, 1))
    for picture in (small, off_centre):
        result = framed([picture])[0]
        # the same garment at the same place, up to the blur of resampling twice: a sixth of what zooming changed
        assert np.abs(result - original).mean() < np.abs(picture - original).mean() / 6


def test_frame_keeps_a_dim_garment_with_a_bright_print_whole():
    white_shirt = garment() * 0.2  # a white garment is dim in Fashion-MNIST's inverted levels
    white_shirt[10:16, 11:17] = 1.0  # its dark print is bright
    np.testing.assert_array_equal(framed([white_shirt])[0], white_shirt)


def test_frame_leaves_almost_every_training_image_as_it_is_and_without_its_floor_cuts_more(debian_dataset_dir):
    """Fashion-MNIST's garments fill the image already; without the floor, dim (white) garments with a bright
    print would be cut down to the print."""
    from fmnist import data

    (images, _), _ = data.load_data()
    images = data.scale_images(images)

    def changed(layer):  # how many images the layer changes
        return sum(int(np.any(np.asarray(layer(part)) != part, axis=(1, 2, 3)).sum()) for part in np.split(images, 60))

    with_floor, without = changed(model_module.Frame()), changed(model_module.Frame(floor=1.0))
    assert with_floor < len(images) / 1000 and without > 4 * with_floor


def test_frame_samples_as_scipys_bilinear_resampling_of_the_outline():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    picture = np.zeros((28, 28), "float32")
    picture[6:19, 9:17] = rng.uniform(0.3, 1.0, (13, 8))  # outline: rows 6-18, columns 9-16, 13 pixels long
    scale, centre = 13 / 28, np.array([12.0, 12.5])
    offset = centre - scale * np.array([13.5, 13.5])
    expected = ndimage.affine_transform(picture, np.eye(2) * scale, offset, order=1, mode="grid-constant")
    np.testing.assert_allclose(framed([picture])[0], expected, atol=1e-5)


def test_frame_computes_in_float32_under_bfloat16_training_and_takes_only_square_grey_images():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = model_module.Frame()
    finally:
        keras.config.set_dtype_policy(previous)
    small = garment(14, 9)[None, ..., None]
    assert np.asarray(layer(small)).dtype == np.float32
    np.testing.assert_allclose(np.asarray(layer(small)), np.asarray(model_module.Frame()(small)))
    with pytest.raises(ValueError, match="square one-channel"):
        model_module.Frame()(np.zeros((1, 28, 28, 3), "float32"))


def test_the_network_answers_a_photo_and_its_mirror_alike_and_trains_on_each_photo_once():
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    photos = np.random.default_rng(0).random((3, 28, 28, 1), dtype="float32")
    answers, mirrored = (np.asarray(network(batch, training=False)) for batch in (photos, photos[:, :, ::-1]))
    np.testing.assert_allclose(answers, mirrored, atol=1e-6)
    views_layers = (model_module.MirrorViews, model_module.MeanOfViews)
    one_view = keras.Sequential([layer for layer in network.layers if not isinstance(layer, views_layers)])
    views = [np.asarray(one_view(batch, training=False)) for batch in (photos, photos[:, :, ::-1])]
    assert not np.allclose(*views, atol=1e-3)  # one view alone tells the two apart
    assert network(photos, training=True).shape == (3, NUM_CLASSES)  # in training, each photo once: no views
    features = np.arange(12, dtype="float32").reshape(4, 3)  # two photos, then their two mirrors
    np.testing.assert_array_equal(network.get_layer("embedding")(features, training=True), features)
    np.testing.assert_array_equal(network.get_layer("embedding")(features), (features[:2] + features[2:]) / 2)
