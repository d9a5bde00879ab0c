"""Helpers the tests share: a program found or the test skipped, the API's environment, a real server process."""

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

import numpy as np
import pytest
from PIL import Image

# An untrained model of the project's architecture, 4 and 8 filters and 16 dense units, exported by
# `export.to_tflite`; `python -m tests.helpers` writes it again (that needs TensorFlow, the tests do not).
TINY_MODEL = Path(__file__).parent / "data" / "tiny_model.tflite"
# The same for a model trained on photos (`fmnist.train_photos`): 32 × 32 colour, five classes of its own.
TINY_PHOTO_MODEL = Path(__file__).parent / "data" / "tiny_photo_model.tflite"
PHOTO_CLASSES = ("bags", "bottoms", "dresses", "shoes", "tops")


def require(probe: str, what: str) -> str:
    """The path of `probe` (a path or a command); skip, naming `what` to install, when it is missing."""
    found = probe if Path(probe).exists() else shutil.which(probe)
    if not found:
        pytest.skip(f"{probe} not found: install {what} (`make test-tools` does on Debian and Ubuntu)")
    return found


REVIEW_THRESHOLDS = {"score": "margin", "thresholds": {"0.99": 0.5, "0.995": 0.8}}


def serving_environment(artifacts: Path) -> dict:
    """The API's environment variables for the model, catalogue and review thresholds in `artifacts`."""
    return {
        "FMNIST_MODEL": str(artifacts / "model.tflite"),
        "FMNIST_CATALOGUE": str(artifacts / "catalogue.npz"),
        "FMNIST_REVIEW_THRESHOLDS": str(artifacts / "review_thresholds.json"),
    }


@contextlib.contextmanager
def api_client(artifacts: Path, **environment: str | None):
    """The API in this process (`TestClient`, its start-up and shutdown run) on the files in `artifacts`, with
    `environment` added to or replacing its variables (None: unset); the settings are read afresh, before and
    after."""
    from fastapi.testclient import TestClient

    from fmnist.serve.app import app
    from fmnist.serve.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**serving_environment(artifacts), **environment}.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            with TestClient(app) as client:
                yield client
        finally:
            get_settings.cache_clear()


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


def wait_until(condition, seconds: float, failure):
    """Poll `condition` until it returns something true, and return that; once `seconds` have passed without
    it, fail the test with `failure` (a message, or a function that writes it then)."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(failure() if callable(failure) else failure)
        time.sleep(0.05)
    return result


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


def write_tiny_model() -> None:
    from fmnist import export, recipe, train_photos
    from fmnist.core import model_folder

    TINY_MODEL.parent.mkdir(exist_ok=True)
    TINY_MODEL.write_bytes(export.to_tflite(recipe.build_model(filters=(4, 8), dense_units=16, seed=0)))
    spec = model_folder.Spec(PHOTO_CLASSES, 32, 3, model_folder.PHOTO)
    TINY_PHOTO_MODEL.write_bytes(
        export.to_tflite(train_photos.build_model(spec, seed=0, filters=(4, 8), dense_units=16), spec=spec)
    )


def garment_photo(path: Path, shade: int, kind="PNG", size=(28, 28)) -> None:
    """A light garment-like blob on black (or a dark one on white when `kind` is JPEG), saved at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros(size[::-1], dtype=np.uint8)
    pixels[size[1] // 4 : -size[1] // 4, size[0] // 3 : -size[0] // 3] = shade
    Image.fromarray(255 - pixels if kind == "JPEG" else pixels).save(path, format=kind)


if __name__ == "__main__":
    write_tiny_model()
