import keras
import numpy as np
import pytest
import tensorflow as tf

from fmnist import data, recipe, train


def train_tiny_model(images, labels, seed, policy="float32"):
    """Two epochs of the project's pipeline on a small model and small data; returns the weights."""
    train.make_deterministic(seed)
    keras.mixed_precision.set_global_policy(policy)
    augment = recipe.build_augmentation(seed)
    dataset = train.make_dataset(
        data.scale_images(images), keras.utils.to_categorical(labels), 8, seed, augment=augment
    )
    network = recipe.build_model(filters=(4, 8), dense_units=16, seed=seed)
    network.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True), loss="categorical_crossentropy")
    try:
        network.fit(dataset, epochs=2, verbose=0, shuffle=False)  # tf.data shuffles
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return network.get_weights()


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_two_runs_with_one_seed_give_bit_identical_weights(tiny_images, policy):
    first = train_tiny_model(*tiny_images, seed=3, policy=policy)
    second = train_tiny_model(*tiny_images, seed=3, policy=policy)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    other = train_tiny_model(*tiny_images, seed=4, policy=policy)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_dataset_batches_and_reshuffles_every_epoch():
    images = np.arange(10, dtype="float32").reshape(10, 1)
    dataset = train.make_dataset(images, images, batch_size=4, shuffle_seed=0)
    assert [len(batch) for batch, _ in dataset] == [4, 4, 2]
    first_epoch = np.concatenate([batch for batch, _ in dataset]).ravel()
    second_epoch = np.concatenate([batch for batch, _ in dataset]).ravel()
    assert sorted(first_epoch) == list(range(10)) and not np.array_equal(first_epoch, second_epoch)


@pytest.mark.parametrize(
    ("flags", "policy"),
    [
        ("fpu avx2 avx512f", "float32"),
        ("fpu avx512f avx512_bf16", "mixed_bfloat16"),
        ("amx_tile amx_bf16", "mixed_bfloat16"),
    ],
)
def test_precision_policy_trains_in_bfloat16_only_where_the_cpu_has_it(tmp_path, monkeypatch, flags, policy):
    monkeypatch.delenv("FMNIST_PRECISION", raising=False)
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("with a GPU the policy is float32 whatever the CPU")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert train.precision_policy(train.cpu_flags(cpuinfo)) == policy


def test_cpu_flags_come_from_cpuid_where_there_is_no_proc_cpuinfo(tmp_path, monkeypatch):
    """macOS and Windows have no /proc/cpuinfo: py-cpuinfo reads the same flags from CPUID."""
    import cpuinfo

    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: {"flags": ["avx2", "avx512_bf16"]})
    assert train.cpu_flags(tmp_path / "missing") == {"avx2", "avx512_bf16"}
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: {"arch": "ARM_8"})  # Apple silicon: no x86 flags
    assert train.cpu_flags(tmp_path / "missing") == set()


def test_precision_policy_follows_the_environment_and_rejects_typos(monkeypatch, tmp_path):
    monkeypatch.setenv("FMNIST_PRECISION", "float32")
    assert train.precision_policy() == "float32"
    monkeypatch.setenv("FMNIST_PRECISION", "bf16")
    with pytest.raises(ValueError, match="FMNIST_PRECISION"):
        train.precision_policy()


def test_the_augmentation_mirrors_about_half_the_images_and_keeps_their_shape():
    images = np.zeros((200, 28, 28, 1), dtype="float32")
    images[:, 8:20, 2:9] = 1.0  # a block on the left: mirrored, it lies on the right
    augmented = np.asarray(recipe.build_augmentation(seed=3)(images, training=True))
    assert augmented.shape == images.shape
    on_the_right = augmented[:, :, 14:].sum(axis=(1, 2, 3)) > augmented[:, :, :14].sum(axis=(1, 2, 3))
    assert 0.35 < on_the_right.mean() < 0.65


def test_the_augmentation_changes_nothing_outside_training():
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    np.testing.assert_array_equal(recipe.build_augmentation()(images, training=False), images)


def test_augmented_dataset_differs_between_epochs_but_not_between_runs():
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype="float32")

    def two_epochs():
        augment = recipe.build_augmentation(seed=5)
        dataset = train.make_dataset(images, np.zeros(16), batch_size=16, shuffle_seed=5, augment=augment)
        return [np.concatenate([batch for batch, _ in dataset]) for _ in range(2)]

    first_run, second_run = two_epochs(), two_epochs()
    assert not np.array_equal(first_run[0], first_run[1])
    np.testing.assert_array_equal(first_run[0], second_run[0])
    np.testing.assert_array_equal(first_run[1], second_run[1])
    with pytest.raises(ValueError, match="shuffle_seed"):
        train.make_dataset(images, np.zeros(16), batch_size=4, augment=recipe.build_augmentation())
