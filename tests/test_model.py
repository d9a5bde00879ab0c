import numpy as np
import pytest

from fmnist import model as model_module


def test_layer_order_follows_the_two_convolution_design():
    model = model_module.build_model(augment=False)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
        "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
        "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.get_layer(model_module.EMBEDDING_LAYER).activation.__name__ == "relu"


def test_output_is_a_probability_distribution_over_ten_classes():
    model = model_module.build_model()
    probabilities = np.asarray(model(np.zeros((3, 28, 28, 1), dtype="float32")))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "parameters"),
    [
        # conv 3*3*32 + BN 4*32 + conv 3*3*32*64 + BN 4*64 + dense 3136*128+128 + 128*10+10
        ({}, 288 + 128 + 18432 + 256 + 401536 + 1290),
        ({"dense_units": 256}, 288 + 128 + 18432 + 256 + 803072 + 2570),
    ],
)
def test_parameter_count(kwargs, parameters):
    assert model_module.build_model(**kwargs).count_params() == parameters


def test_augmentation_layers_add_no_parameters_and_come_first():
    with_augmentation = model_module.build_model(augment=True)
    assert [type(layer).__name__ for layer in with_augmentation.layers[:2]] == ["RandomFlip", "RandomTranslation"]
    assert with_augmentation.count_params() == model_module.build_model(augment=False).count_params()


def test_seed_model_matches_the_original_projects_size():
    assert model_module.build_seed_model().count_params() == 225_034


def test_only_two_convolution_blocks_are_allowed():
    with pytest.raises(ValueError, match="two convolution"):
        model_module.build_model(filters=(32, 64, 128))
