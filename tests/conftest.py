"""Shared fixtures: tiny synthetic data and models, and real components installed on demand."""

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

# `make test-tools` installs the programs some tests drive (Chromium, LibreOffice); a test that finds one missing
# skips and names it. CI sets FMNIST_NO_SKIPS=1, which turns every skip into a failure.
NO_SKIPS = os.environ.get("FMNIST_NO_SKIPS") == "1"


def require(probe: str, what: str) -> str:
    """The path of `probe` (a path or a command); skip, naming `what` to install, when it is missing."""
    found = probe if Path(probe).exists() else shutil.which(probe)
    if not found:
        pytest.skip(f"{probe} not found: install {what} (`make test-tools` does on Debian and Ubuntu)")
    return found


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


REVIEW_THRESHOLDS = {"score": "margin", "thresholds": {"0.99": 0.5, "0.995": 0.8}}


def serving_environment(artifacts: Path) -> dict:
    """The API's environment variables for the model, catalogue and review thresholds in `artifacts`."""
    from fmnist import serve

    return {
        serve.MODEL_ENV: str(artifacts / "model.tflite"),
        serve.CATALOGUE_ENV: str(artifacts / "catalogue.npz"),
        serve.REVIEW_ENV: str(artifacts / "review_thresholds.json"),
    }


@pytest.fixture(scope="session")
def serving_artifacts(tmp_path_factory) -> Path:
    """A tiny untrained model exported to TFLite and a 30-item catalogue, for the API's tests."""
    from fmnist import catalogue, export, model

    folder = tmp_path_factory.mktemp("serving")
    network = model.build_model(filters=(4, 8), dense_units=16, seed=0)
    (folder / "model.tflite").write_bytes(export.to_tflite(network))
    pictures = np.random.default_rng(0).random((30, 28, 28, 1), dtype="float32")
    ids, titles = [f"item-{n}" for n in range(30)], [f"Item {n}" for n in range(30)]
    catalogue.from_pictures(ids, titles, pictures, folder / "model.tflite").save(folder / "catalogue.npz")
    (folder / "review_thresholds.json").write_text(json.dumps(REVIEW_THRESHOLDS))
    return folder


def png_bytes(mode="L", size=(28, 28), color=None) -> bytes:
    """A PNG file of one colour."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def api_server(artifacts: Path, *options: str, log: Path | None = None):
    """A real server process (`python -m fmnist.serve`, uvicorn) on a free port; yields (process, base URL)."""

    port = free_port()
    env = dict(os.environ, **serving_environment(artifacts))
    command = [sys.executable, "-m", "fmnist.serve", "--port", str(port)]
    with open(log or os.devnull, "wb") as output:
        server = subprocess.Popen([*command, *options], env=env, stdout=output, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if json.load(urllib.request.urlopen(f"{url}/healthz", timeout=1))["status"] == "ok":
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                pytest.fail("the server did not answer /healthz within 30 s")
            yield server, url
        finally:
            server.terminate()
            server.wait(timeout=30)
