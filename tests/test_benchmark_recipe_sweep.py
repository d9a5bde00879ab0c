"""benchmarks/recipe_sweep.py trains the notebook's model and optimizer, with only its variants changed."""

import keras

from benchmarks import recipe_sweep
from fmnist import model, recipe

# the recipe the notebook trains, as the search writes it
COMMITTED = {**recipe_sweep.BASE, **recipe_sweep.ROUND_3_BASE}


def test_the_search_builds_the_packages_network_with_keras_batch_normalization():
    searched = recipe_sweep.variant_model(COMMITTED, seed=3)
    # the network as the search trained it: the package's, without the two layers of the mirrored views, with dropout
    package = [layer for layer in recipe.build_model(seed=3).layers if layer.name not in ("views", "embedding")]
    names = [layer.name for layer in package]  # ... "dense", "probabilities"
    assert [layer.name for layer in searched.layers] == [*names[:-1], "dropout", names[-1]]
    searched_layers = [layer for layer in searched.layers if layer.name != "dropout"]
    for ours, theirs in zip(searched_layers, package, strict=True):
        if isinstance(theirs, model.FusedBatchNormalization):
            assert isinstance(ours, keras.layers.BatchNormalization), ours
            assert (ours.momentum, ours.epsilon, ours.name) == (theirs.momentum, theirs.epsilon, theirs.name)
        else:
            assert ours.get_config() == theirs.get_config()
    assert searched.count_params() == sum(layer.count_params() for layer in package)


def test_the_searchs_variants_change_only_their_layers():
    variant = {**COMMITTED, "first_kernel": 5, "second_padding": "valid", "batch_norm_momentum": 0.9, "dense": 128}
    network = recipe_sweep.variant_model(variant, seed=0)
    assert network.get_layer("conv_1").kernel_size == (5, 5)
    assert network.get_layer("conv_2").padding == "valid"
    assert network.get_layer("norm_2").momentum == 0.9
    assert network.get_layer("dense").units == 128
    assert network.get_layer("conv_1").filters == 32 and network.get_layer("dropout").rate == COMMITTED["dropout"]


def test_the_searchs_committed_recipe_holds_the_notebooks_schedule():
    # the notebook keeps the schedule this search chose; its augmentation comes from docs/robustness.md's search
    settings = {"epochs": recipe.EPOCHS, "batch_size": recipe.BATCH_SIZE, "learning_rate": recipe.LEARNING_RATE}
    settings |= {"label_smoothing": recipe.LABEL_SMOOTHING}
    assert {name: COMMITTED[name] for name in settings} == settings


def test_the_search_compiles_the_packages_optimizer_and_its_variants():
    ours = recipe_sweep.variant_optimizer(COMMITTED, 4300).get_config()
    network = recipe.build_model(filters=(4, 8), dense_units=16)
    recipe.compile_model(network, 4300)
    theirs = network.optimizer.get_config()
    assert {**ours, "name": None} == {**theirs, "name": None}
    variant = recipe_sweep.variant_optimizer({**COMMITTED, "optimizer": "nadam", "ema": 0.99, "beta_2": 0.99}, 4300)
    assert isinstance(variant, keras.optimizers.Nadam)
    config = variant.get_config()
    assert config["use_ema"] and config["ema_momentum"] == 0.99 and config["beta_2"] == 0.99
    assert config["learning_rate"] == theirs["learning_rate"]
