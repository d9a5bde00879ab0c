"""The serving side runs without the training stack: every serving module imports, serves and tags with
TensorFlow, Keras, matplotlib, scikit-learn, scipy and python-pptx made unimportable."""

import csv
import hashlib
import json
import os
import pkgutil
import signal
import subprocess
import sys
import urllib.request

import pytest

import fmnist.core
import fmnist.tag
from fmnist import CLASS_NAMES
from tests.committed import ROOT

from .helpers import free_port, png_bytes, serving_environment, wait_until

BLOCKED = ("tensorflow", "keras", "matplotlib", "sklearn", "scipy", "pptx")
# Every module of the inference core and of the shop's tools, and the API's, as names below `fmnist`.
SERVING_MODULES = ("core", "tag", "serve.app", "serve.__main__")
SERVING_MODULES += tuple(
    f"{package.__name__.removeprefix('fmnist.')}.{module.name}"
    for package in (fmnist.core, fmnist.tag)
    for module in pkgutil.iter_modules(package.__path__)
)

SCRIPT = """
import importlib.abc, json, sys

class Unimportable(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is blocked in this test", name=name)

BLOCKED, MODULES, photo, source, output, model, thresholds = json.loads(sys.argv[1])
sys.meta_path.insert(0, Unimportable())
import importlib
for module in MODULES:
    importlib.import_module(f"fmnist.{module}")
from fastapi.testclient import TestClient
from fmnist.tag.__main__ import main as tag_main
from fmnist.serve.app import app

with TestClient(app) as client:
    answer = client.post("/predict", files={"file": ("x.png", open(photo, "rb"), "image/png")}).json()
status = tag_main([source, "-o", output, "--model", model, "--thresholds", thresholds, "--quiet"])
loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
print(json.dumps({"answer": answer, "tag_status": status, "loaded": loaded}))
"""


@pytest.mark.slow
def test_the_api_and_the_tagger_run_with_the_training_stack_unimportable(serving_artifacts, tmp_path):
    environment = serving_environment(serving_artifacts)
    shop = tmp_path / "shop"
    shop.mkdir()
    for number in range(3):
        (shop / f"item-{number}.png").write_bytes(png_bytes(color=40 * number))
    photo, output = shop / "item-1.png", tmp_path / "tags.csv"
    files = [str(photo), str(shop), str(output), environment["FMNIST_MODEL"], environment["FMNIST_REVIEW_THRESHOLDS"]]
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([BLOCKED, SERVING_MODULES, *files])],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["answer"]["label"] in CLASS_NAMES and isinstance(result["answer"]["needs_review"], bool)
    assert result["tag_status"] == 0 and result["loaded"] == []
    with open(output, newline="") as file:
        assert sorted(row["id"] for row in csv.DictReader(file)) == ["item-0", "item-1", "item-2"]


@pytest.mark.slow
@pytest.mark.serving_install
def test_make_serve_runs_the_api_from_the_serving_install_alone(serving_artifacts, tmp_path):
    """`make serve` as a user types it, after `make test-serving` built the serving install: it has nothing more
    to build (no TensorFlow, no dataset), runs that install's Python and answers /healthz."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    environment |= serving_environment(serving_artifacts)
    port = free_port()
    command = ["make", "--no-print-directory", "serve", f"SERVE_PORT={port}"]
    planned = subprocess.run([*command, "--dry-run"], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert planned.returncode == 0 and len(planned.stdout.splitlines()) == 1, planned.stdout + planned.stderr
    assert planned.stdout.startswith("build/venv-serve/bin/python -m fmnist.serve "), planned.stdout
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )

    def health():
        if server.poll() is not None:
            pytest.fail(f"`make serve` exited with status {server.returncode}: {log.read_text()[-2000:]}")
        try:
            return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1))
        except OSError:
            return None

    try:
        answer = wait_until(health, 60, "`make serve` did not answer /healthz within 60 s")
        model = serving_artifacts / "model.tflite"
        assert answer["status"] == "ok" and answer["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started
        server.wait(timeout=30)
