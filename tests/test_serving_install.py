"""The serving side runs without the training stack: every serving module imports, serves and tags with
TensorFlow, Keras, matplotlib, scikit-learn, scipy and python-pptx made unimportable."""

import csv
import json
import os
import subprocess
import sys

import pytest

from fmnist import CLASS_NAMES
from fmnist.inference import MODEL_ENV, REVIEW_ENV

from .helpers import png_bytes, serving_environment

BLOCKED = ("tensorflow", "keras", "matplotlib", "sklearn", "scipy", "pptx")
SERVING_MODULES = ("images", "runtime", "inference", "catalogue", "similar", "files", "explain", "serve", "tag")
SERVING_MODULES += ("cluster",)

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
from fmnist import serve, tag

with TestClient(serve.app) as client:
    answer = client.post("/predict", files={"file": ("x.png", open(photo, "rb"), "image/png")}).json()
status = tag.main([source, "-o", output, "--model", model, "--thresholds", thresholds, "--quiet"])
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
    files = [str(photo), str(shop), str(output), environment[MODEL_ENV], environment[REVIEW_ENV]]
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
