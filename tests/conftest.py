"""Shared fixtures: tiny synthetic data and models, and real components installed on demand."""

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from .helpers import REVIEW_THRESHOLDS, TINY_MODEL, TINY_PHOTO_MODEL, garment_photo, require

# `make test-tools` installs the programs some tests drive (Chromium, LibreOffice); a test that finds one missing
# skips and names it. CI sets FMNIST_NO_SKIPS=1, which turns every skip into a failure.
NO_SKIPS = os.environ.get("FMNIST_NO_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if NO_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"FMNIST_NO_SKIPS=1 turns this skip into a failure: {report.longrepr[-1]}"


def pytest_report_header(config):
    """Where a learner's own run rewrote reports/metrics.json, say which headline figures it changed."""
    from tests.committed import changed_figures

    changes = changed_figures()
    if changes:
        return ["your run differs from the committed reference run (the docs quote the latter):", *changes]
    return None


@pytest.fixture(scope="session")
def debian_dataset_dir() -> Path:
    """The folder of Debian's dataset-fashion-mnist package (`make data` installs it)."""
    from fmnist import data

    require(str(data.DEBIAN_DIR / "train-images-idx3-ubyte.gz"), "Debian's dataset-fashion-mnist package")
    return data.DEBIAN_DIR


@pytest.fixture
def tiny_images():
    """Twenty random uint8 images with labels covering all ten classes."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8), np.arange(20) % 10


@pytest.fixture(scope="session")
def serving_artifacts(tmp_path_factory) -> Path:
    """A tiny untrained model exported to TFLite (`helpers.TINY_MODEL`) and a 30-item catalogue, for the API's
    tests: they need no TensorFlow, so they run in the serving install too."""
    return model_folder(tmp_path_factory.mktemp("serving"), TINY_MODEL, (28, 28, 1))


@pytest.fixture(scope="session")
def photo_artifacts(tmp_path_factory) -> Path:
    """The same for a model trained on photos (`helpers.TINY_PHOTO_MODEL`: 32 × 32 colour, classes of its own)."""
    return model_folder(tmp_path_factory.mktemp("photo-serving"), TINY_PHOTO_MODEL, (32, 32, 3))


def model_folder(folder: Path, model: Path, shape: tuple) -> Path:
    """`folder` holding `model` as model.tflite, review thresholds and a 30-item catalogue of random inputs."""
    from fmnist.core import catalogue

    shutil.copy(model, folder / "model.tflite")
    pictures = np.random.default_rng(0).random((30, *shape), dtype="float32")
    ids, titles = [f"item-{n}" for n in range(30)], [f"Item {n}" for n in range(30)]
    catalogue.from_pictures(ids, titles, pictures, folder / "model.tflite").save(folder / "catalogue.npz")
    (folder / "review_thresholds.json").write_text(json.dumps(REVIEW_THRESHOLDS))
    return folder


@pytest.fixture
def shop(tmp_path) -> Path:
    """A shop's folder: five small PNGs, a 600 × 800 JPEG in a subfolder and a broken file."""
    folder = tmp_path / "shop"
    for number in range(5):
        garment_photo(folder / f"item-{number}.png", 60 + 40 * number)
    garment_photo(folder / "jackets" / "big.jpg", 180, "JPEG", size=(600, 800))
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder
