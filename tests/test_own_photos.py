"""A shop's own categories: train on a rendered folder of labelled photos, then serve and tag with the model
folder (`fmnist.train_photos`, `fmnist.core.model_folder`, docs/own-photos.md)."""

import csv
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from benchmarks import own_photos
from fmnist import train_photos
from fmnist.core import images, model_folder
from fmnist.tag.__main__ import main as tag_main
from tests.helpers import api_client

CATEGORIES = sorted(own_photos.CATEGORIES)
FOLDER_FILES = ("FMNIST_MODEL", "FMNIST_CATALOGUE", "FMNIST_REVIEW_THRESHOLDS")  # unset: the folder's own


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A rendered shop: 8 training photos a category, 2 for validation and 2 for test, and a model folder trained
    on them at 32 × 32 in colour for 2 epochs."""
    folder = tmp_path_factory.mktemp("shop")
    listing = own_photos.render(folder / "photos", per_category=8)
    report = train_photos.run(listing, folder / "model", size=32, epochs=2, progress=False)
    return {"listing": listing, "model": folder / "model", "report": report}


def test_the_tflite_model_carries_its_labels_and_input_read_back_with_no_project_code(shop):
    from ai_edge_litert.interpreter import Interpreter

    path = shop["model"] / "model.tflite"
    with zipfile.ZipFile(path) as packed:
        labels = packed.read("labels.txt").decode().splitlines()
        described = json.loads(packed.read("model.json"))
    assert labels == CATEGORIES
    assert described == {"size": 32, "channels": 3, "preprocessing": "photo"}
    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    outputs = runner(image=np.zeros((1, 32, 32, 3), np.float32))
    assert outputs["probabilities"].shape == (1, len(labels))


def test_the_split_follows_the_csv_and_the_report_describes_the_test_split(shop):
    with open(shop["model"] / "split.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    with open(shop["listing"], newline="") as file:
        given = {(shop["listing"].parent / row["path"]).as_posix(): row["part"] for row in csv.DictReader(file)}
    assert {row["path"]: row["split"] for row in rows} == given
    report = shop["report"]
    assert report["photos"] == {"train": 40, "validation": 10, "test": 10}
    assert np.sum(report["confusion_matrix"]) == 10 and report["classes"] == CATEGORIES
    assert set(report["per_class"]) >= set(CATEGORIES)
    for name in ("confusion.png", "mistakes.png", "report.json", "review_thresholds.json", "model.keras"):
        assert (shop["model"] / name).stat().st_size > 0


def test_the_model_opens_in_keras_alone(shop):
    import keras

    model = keras.models.load_model(shop["model"] / "model.keras")
    assert model.output_shape == (None, len(CATEGORIES))


def test_the_api_answers_with_the_models_own_classes(shop):
    photo = next((shop["listing"].parent / "shoes").glob("test-*.jpg"))
    with api_client(shop["model"], FMNIST_MODEL_DIR=str(shop["model"]), **dict.fromkeys(FOLDER_FILES)) as client:
        assert client.get("/healthz").json()["classes"] == CATEGORIES
        answer = client.post("/predict", content=photo.read_bytes(), headers={"content-type": "image/jpeg"}).json()
        assert answer["label"] in CATEGORIES and set(answer["probabilities"]) == set(CATEGORIES)
        similar = client.post("/similar?k=3", files={"file": ("shoe.jpg", photo.read_bytes())}).json()
        assert {item["label"] for item in similar["items"]} <= set(CATEGORIES)
        refused = client.post("/predict", json={"pixels": [[0] * 28] * 28})
        assert refused.status_code == 415 and "(32, 32, 3)" in refused.json()["detail"]


def test_fmnist_tag_tags_with_the_model_folders_classes(shop, tmp_path, capsys):
    output = tmp_path / "tags.csv"
    source = shop["listing"].parent / "bags"
    assert (
        tag_main([str(source), "-o", str(output), "--model-dir", str(shop["model"]), "--quiet", "--workers", "1"]) == 0
    )
    with open(output, newline="") as file:
        tags = list(csv.DictReader(file))
    assert len(tags) == 12 and {tag["label"] for tag in tags} <= set(CATEGORIES)
    printed = capsys.readouterr().out
    assert all(name in printed for name in CATEGORIES) and "T-shirt/top" not in printed


def test_fit_keeps_the_proportions_on_the_photos_own_background():
    pixels = np.zeros((40, 160, 3), np.uint8)
    pixels[:] = (20, 40, 200)  # a blue background
    pixels[10:30, 20:140] = (250, 0, 0)  # a wide red garment
    fitted = images.fit(pixels, 32, 3)
    assert fitted.shape == (32, 32, 3)
    np.testing.assert_allclose(fitted[0, 0] * 255, (20, 40, 200), atol=2)  # padded with blue, not black
    red_rows = np.flatnonzero((fitted[..., 0] > 0.8).any(axis=1))
    assert 3 <= len(red_rows) <= 6  # 20 of 160 px tall: a quarter of its width, as in the photo, not stretched
    assert images.fit(pixels[..., 0], 16, 1).shape == (16, 16, 1)


def test_the_split_is_seeded_and_stratified(tmp_path):
    photos = [train_photos.Photo(f"{label}/{n}.jpg", label) for label in ("a", "b") for n in range(20)]
    parts = train_photos.split(photos, seed=1)
    assert parts == train_photos.split(photos, seed=1) and parts != train_photos.split(photos, seed=2)
    for name, share in train_photos.SHARES.items():
        assert all(sum(p.label == label for p in parts[name]) == round(share * 20) for label in ("a", "b"))
    assert sorted(p for part in parts.values() for p in part) == sorted(photos)


def test_bad_sources_get_a_clear_error(tmp_path):
    (tmp_path / "only" / "shirts").mkdir(parents=True)
    for n in range(3):
        Image.new("RGB", (20, 20)).save(tmp_path / "only" / "shirts" / f"{n}.png")
    with pytest.raises(ValueError, match="2 or more categories"):
        train_photos.split(train_photos.labelled_photos(tmp_path / "only"), seed=0)
    (tmp_path / "bad.csv").write_text("path,label\na.jpg\n")
    with pytest.raises(ValueError, match="not path,label"):
        train_photos.labelled_photos(tmp_path / "bad.csv")
    assert train_photos.main([str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    with pytest.raises(ValueError, match="holds none"):
        model_folder.model_path(tmp_path)
