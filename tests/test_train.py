import keras
import numpy as np
import pytest
import tensorflow as tf

from fmnist import data, model, train


def train_tiny_model(images, labels, seed, policy="float32"):
    """Two epochs of the project's pipeline on a small model and small data; returns the weights."""
    train.make_deterministic(seed)
    keras.mixed_precision.set_global_policy(policy)
    dataset = train.make_dataset(data.scale_images(images), data.one_hot(labels), 8, seed, augment=True)
    network = model.build_model(filters=(4, 8), dense_units=16, seed=seed)
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
    assert train.precision_policy(cpuinfo) == policy
    assert train.precision_policy(tmp_path / "missing") == "float32"


def test_precision_policy_follows_the_environment_and_rejects_typos(monkeypatch, tmp_path):
    monkeypatch.setenv("FMNIST_PRECISION", "float32")
    assert train.precision_policy() == "float32"
    monkeypatch.setenv("FMNIST_PRECISION", "bf16")
    with pytest.raises(ValueError, match="FMNIST_PRECISION"):
        train.precision_policy()


def test_augmentation_flips_and_shifts_each_image_by_at_most_two_pixels():
    images = np.zeros((64, 28, 28, 1), dtype="float32")
    images[:, 10, 5, 0] = 1.0
    augmented = np.asarray(train.augment_batch(tf.constant(images), tf.constant(7, tf.int64), erase_probability=0))
    assert augmented.shape == images.shape and np.all(augmented.sum(axis=(1, 2, 3)) <= 1)
    positions = [np.argwhere(image[..., 0] == 1) for image in augmented]
    kept = [p[0] for p in positions if len(p)]
    assert len(kept) == 64  # the pixel is 5 columns from the edge: a 2-pixel shift never loses it
    assert all(8 <= row <= 12 and (3 <= column <= 7 or 20 <= column <= 24) for row, column in kept)
    assert len({tuple(p) for p in kept}) > 5
    assert any(column >= 20 for _, column in kept) and any(column <= 7 for _, column in kept)
    again = np.asarray(train.augment_batch(tf.constant(images), tf.constant(7, tf.int64), erase_probability=0))
    np.testing.assert_array_equal(augmented, again)


def test_augmented_dataset_differs_between_epochs_but_not_between_runs():
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype="float32")

    def two_epochs():
        dataset = train.make_dataset(images, np.zeros(16), batch_size=16, shuffle_seed=5, augment=True)
        return [np.concatenate([batch for batch, _ in dataset]) for _ in range(2)]

    first_run, second_run = two_epochs(), two_epochs()
    assert not np.array_equal(first_run[0], first_run[1])
    np.testing.assert_array_equal(first_run[0], second_run[0])
    np.testing.assert_array_equal(first_run[1], second_run[1])
    with pytest.raises(ValueError, match="shuffle_seed"):
        train.make_dataset(images, np.zeros(16), batch_size=4, augment=True)


def test_random_erasing_blanks_one_rectangle_with_sides_in_range():
    images = tf.ones((32, 28, 28, 1))
    seed = tf.constant(11, tf.int64)
    shifted = np.asarray(train.augment_batch(images, seed, erase_probability=0))
    erased = np.asarray(train.augment_batch(images, seed, erase_probability=1, erase_sides=(4, 9)))
    for before, after in zip(shifted[..., 0], erased[..., 0], strict=True):
        rows, columns = np.nonzero((before == 1) & (after == 0))
        # the rectangle may reach into the zero border left by the shift, so it shows at most its full size
        assert len(rows) and rows.max() - rows.min() < 9 and columns.max() - columns.min() < 9
        assert len(rows) == (rows.max() - rows.min() + 1) * (columns.max() - columns.min() + 1)  # a rectangle
        assert np.array_equal(after[after == 1], before[after == 1])
    none = np.asarray(train.augment_batch(images, seed, erase_probability=0.0))
    np.testing.assert_array_equal(none, shifted)
    half = np.asarray(train.augment_batch(tf.ones((400, 28, 28, 1)), seed, max_shift=0, erase_probability=0.5))
    assert 0.4 < (half.min(axis=(1, 2, 3)) == 0).mean() < 0.6
