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


def apt_install(package: str, probe: str) -> None:
    """Install a Debian package unless `probe` (a path or a command) is already there; skip where apt is not."""
    if Path(probe).exists() or shutil.which(probe):
        return
    if not shutil.which("apt-get"):
        pytest.skip(f"{package} is needed and apt-get is not available to install it")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env)


@pytest.fixture(scope="session")
def debian_dataset_dir() -> Path:
    """The folder of Debian's dataset-fashion-mnist package, installed if missing."""
    from fmnist import data

    apt_install("dataset-fashion-mnist", str(data.DEBIAN_DIR / "train-images-idx3-ubyte.gz"))
    return data.DEBIAN_DIR


@pytest.fixture
def tiny_images():
    """Twenty random uint8 images with labels covering all ten classes."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8), np.arange(20) % 10


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
    from fmnist import serve

    port = free_port()
    env = dict(os.environ)
    env[serve.MODEL_ENV], env[serve.CATALOGUE_ENV] = str(artifacts / "model.tflite"), str(artifacts / "catalogue.npz")
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
