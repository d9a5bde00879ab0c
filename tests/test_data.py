import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from fmnist import data


def fake_spec(folder: Path, name="train-labels-idx1-ubyte.gz", content=b"\x00\x00\x08\x01" + bytes(8)):
    """Write a small gzip file and return a DataFile whose content checksum matches it."""
    path = folder / name
    path.write_bytes(gzip.compress(content))
    return data.DataFile(name, "0" * 32, "0" * 64, hashlib.sha256(content).hexdigest(), len(content))


def test_search_order_puts_the_environment_first_then_keras_cache_then_debian(tmp_path):
    environ = {"FASHION_MNIST_DIR": str(tmp_path / "mine"), "KERAS_HOME": str(tmp_path / "keras")}
    assert data.search_dirs(environ) == [tmp_path / "mine", tmp_path / "keras/datasets/fashion-mnist", data.DEBIAN_DIR]


def test_search_order_without_variables_uses_the_home_keras_cache():
    assert data.search_dirs({}) == [Path.home() / ".keras/datasets/fashion-mnist", data.DEBIAN_DIR]


def test_verify_accepts_matching_content_and_refuses_a_changed_byte(tmp_path):
    spec = fake_spec(tmp_path)
    data.verify_file(tmp_path / spec.name, spec)
    other = data.DataFile(spec.name, spec.md5, spec.sha256, "f" * 64, spec.content_bytes)
    with pytest.raises(data.DatasetError, match="f" * 64):
        data.verify_file(tmp_path / spec.name, other)


def test_a_truncated_file_gets_a_clear_error_not_a_gzip_traceback(tmp_path):
    spec = data.FILES[0]
    path = tmp_path / spec.name
    path.write_bytes(gzip.compress(bytes(1000))[:50])
    with pytest.raises(data.DatasetError) as error:
        data.verify_file(path, spec)
    message = str(error.value)
    for expected in (spec.name, spec.md5, spec.sha256, "apt-get install dataset-fashion-mnist", data.OFFICIAL_URL):
        assert expected in message


def test_ensure_copies_verified_files_from_fashion_mnist_dir_into_the_keras_cache(tmp_path, monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    specs = tuple(fake_spec(source, spec.name, spec.name.encode()) for spec in data.FILES)
    monkeypatch.setattr(data, "FILES", specs)
    environ = {"FASHION_MNIST_DIR": str(source), "KERAS_HOME": str(tmp_path / "keras")}
    cache = data.ensure_dataset(environ, allow_download=False)
    assert cache == tmp_path / "keras/datasets/fashion-mnist"
    for spec in specs:
        assert (cache / spec.name).read_bytes() == (source / spec.name).read_bytes()


def test_ensure_refuses_a_corrupt_cached_file_and_keeps_it(tmp_path, monkeypatch):
    cache = tmp_path / "keras/datasets/fashion-mnist"
    cache.mkdir(parents=True)
    spec = fake_spec(cache)
    (cache / spec.name).write_bytes(b"not gzip at all")
    monkeypatch.setattr(data, "FILES", (spec,))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data, "_download", lambda *args: pytest.fail("must not download over a corrupt file"))
    with pytest.raises(data.DatasetError, match="not the official"):
        data.ensure_dataset({"KERAS_HOME": str(tmp_path / "keras")})
    assert (cache / spec.name).read_bytes() == b"not gzip at all"


def test_missing_files_without_download_name_the_folders_searched(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(data.DatasetError, match="no-debian"):
        data.ensure_dataset({"KERAS_HOME": str(tmp_path / "keras")}, allow_download=False)


@pytest.mark.slow
def test_the_debian_package_files_verify_and_load_through_keras(debian_dataset_dir, tmp_path):
    import keras

    for spec in data.FILES:
        data.verify_file(debian_dataset_dir / spec.name, spec)
    environ = {"KERAS_HOME": str(tmp_path / "keras")}
    data.ensure_dataset(environ, allow_download=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", environ["KERAS_HOME"])
        (train_images, train_labels), (test_images, test_labels) = keras.datasets.fashion_mnist.load_data()
    assert train_images.shape == (60_000, 28, 28) and test_images.shape == (10_000, 28, 28)
    assert train_images.dtype == np.uint8 and train_images.max() == 255
    assert np.bincount(train_labels).tolist() == [6000] * 10
    assert np.bincount(test_labels).tolist() == [1000] * 10


def test_scale_images_adds_a_channel_and_maps_to_unit_range(tiny_images):
    images, _ = tiny_images
    scaled = data.scale_images(images)
    assert scaled.shape == (20, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.min() >= 0 and scaled.max() <= 1
    np.testing.assert_allclose(scaled[..., 0] * 255, images, atol=1e-4)


def test_scale_images_rejects_floats_and_wrong_rank():
    with pytest.raises(ValueError, match="uint8"):
        data.scale_images(np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        data.scale_images(np.zeros((28, 28), dtype=np.uint8))


def test_split_validation_is_seeded_disjoint_and_complete(tiny_images):
    images, labels = tiny_images
    (train_x, train_y), (val_x, val_y) = data.split_validation(images, labels, 5, seed=1)
    (again_x, _), _ = data.split_validation(images, labels, 5, seed=1)
    assert len(train_x) == 15 and len(val_x) == 5
    np.testing.assert_array_equal(train_x, again_x)
    assert sorted(np.concatenate([train_y, val_y]).tolist()) == sorted(labels.tolist())
    with pytest.raises(ValueError, match="validation_size"):
        data.split_validation(images, labels, 20, seed=1)
