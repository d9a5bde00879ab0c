"""A shop's own categories: train on a rendered folder of labelled photos, then serve and tag with the model
folder (`fmnist.train_photos`, `fmnist.core.model_folder`, docs/own-photos.md)."""

import csv
import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from benchmarks import own_photos
from fmnist import train_photos
from fmnist.core import images, model_folder
from fmnist.tag.__main__ import main as tag_main
from tests.helpers import PHOTO_CLASSES, api_client

CATEGORIES = sorted(own_photos.CATEGORIES)
FOLDER_FILES = ("FMNIST_MODEL", "FMNIST_CATALOGUE", "FMNIST_REVIEW_THRESHOLDS")  # unset: the folder's own


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A rendered shop: 8 training photos a category, 2 for validation and 2 for test, and a model folder trained
    on them by docs/own-photos.md's command, at 32 × 32 in colour for 2 epochs."""
    folder = tmp_path_factory.mktemp("shop")
    listing = own_photos.render(folder / "photos", per_category=8)
    command = [str(listing), "-o", str(folder / "model"), "--size", "32", "--epochs", "2", "--quiet"]
    import keras

    policy = keras.config.dtype_policy()
    try:
        assert train_photos.main(command) == 0
    finally:  # the command sets Keras's global precision for its training, as the notebook does
        keras.config.set_dtype_policy(policy)
    report = json.loads((folder / "model" / "report.json").read_text())
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
        given = {str((shop["listing"].parent / row["path"]).resolve()): row["part"] for row in csv.DictReader(file)}
    assert {row["path"]: row["part"] for row in rows} == given
    again = train_photos.split(train_photos.labelled_photos(shop["model"] / "split.csv"), seed=0)  # fed back
    assert {photo.path: name for name, part in again.items() for photo in part} == given
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


def test_a_test_split_without_mistakes_gets_its_report_and_no_mistakes_figure(tmp_path):
    class Perfect:
        def predict(self, images, verbose=0):
            return np.eye(2, dtype="float32")[(images[:, 0, 0, 0] > 0.5).astype(int)] * 0.9 + 0.05

    x = np.zeros((4, 8, 8, 3), np.float32)
    x[2:] = 1.0
    labels = np.array([0, 0, 1, 1])
    report = train_photos.report(tmp_path, Perfect(), x, labels, ("a", "b"), {"0.99": 0.5})
    assert report["test_accuracy"] == 1.0 and report["confusion_matrix"] == [[2, 0], [0, 2]]
    assert (tmp_path / "confusion.png").exists() and not (tmp_path / "mistakes.png").exists()


def test_the_catalogue_names_photos_by_their_path_and_skips_a_repeated_id(photo_artifacts, tmp_path):
    from fmnist.core.catalogue import Catalogue

    for name in ("shoes/a.jpg", "shoes/a.png", "shoes/winter/a.jpg", "bags/a.jpg"):
        (tmp_path / "photos" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "photos" / name)
    photos = train_photos.labelled_photos(tmp_path / "photos")
    model = photo_artifacts / "model.tflite"
    prepared = dict(
        zip([photo.path for photo in photos], train_photos.load(photos, model_folder.read_spec(model)), strict=True)
    )
    prepared[str(tmp_path / "photos" / "bags" / "a.jpg")] = np.full((32, 32, 3), 0.5, np.float32)  # not the file's
    problems = train_photos.catalogue(tmp_path / "photos", photos, prepared, model, tmp_path)
    catalogue = Catalogue.load(tmp_path / "catalogue.npz")
    assert sorted(catalogue.ids) == ["bags-a", "shoes-a", "shoes-winter-a"]
    assert len(problems) == 1 and "appears twice" in problems[0]
    assert catalogue.thumbnails.shape == (3, 32, 32, 3)
    assert (catalogue.thumbnails[list(catalogue.ids).index("bags-a")] == 128).all()  # the photo was not read again


def test_an_output_folder_holding_another_model_is_refused(tmp_path):
    (tmp_path / "fashion_cnn.tflite").touch()
    with pytest.raises(ValueError, match="holds another model"):
        train_photos.output_folder(tmp_path)
    assert train_photos.output_folder(tmp_path / "new").is_dir()


def test_loose_photos_and_an_epoch_count_of_zero_are_refused(tmp_path, capsys):
    Image.new("RGB", (20, 20)).save(tmp_path / "loose.jpg")
    with pytest.raises(ValueError, match="outside any category folder"):
        train_photos.labelled_photos(tmp_path)
    with pytest.raises(SystemExit):
        train_photos.main([str(tmp_path), "-o", str(tmp_path / "out"), "--epochs", "0"])
    assert "at least 1" in capsys.readouterr().err


def test_a_model_without_a_packed_spec_is_the_fashion_mnist_model_and_a_bad_spec_is_named(tmp_path):
    (tmp_path / "old.tflite").write_bytes(b"TFL3 no archive")
    assert model_folder.read_spec(tmp_path / "old.tflite") == model_folder.FASHION_MNIST_SPEC
    packed = model_folder.pack(b"TFL3", model_folder.Spec(("a", "b"), 32, 3, model_folder.PHOTO))
    (tmp_path / "new.tflite").write_bytes(packed)
    assert model_folder.read_spec(tmp_path / "new.tflite").labels == ("a", "b")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("labels.txt", "a\nb\n")
        archive.writestr("model.json", json.dumps({"size": 32, "colour": True}))
    with pytest.raises(ValueError, match="colour"):
        model_folder.read_spec(tmp_path / "bad.zip")


def test_a_model_named_on_its_own_brings_the_files_beside_it(tmp_path):
    files = model_folder.files("models", model=tmp_path / "shop" / "model.tflite")
    assert files.thresholds == tmp_path / "shop" / "review_thresholds.json"
    assert files.catalogue == tmp_path / "shop" / "catalogue.npz"


def test_a_photo_models_explanation_has_the_inputs_size(photo_artifacts):
    photo = io.BytesIO()
    Image.new("RGB", (90, 60), (240, 240, 240)).save(photo, format="PNG")
    with api_client(photo_artifacts) as client:
        answer = client.post("/explain", files={"file": ("x.png", photo.getvalue())}).json()
    assert np.asarray(answer["map"]).shape == (32, 32) and answer["prediction"]["label"] in PHOTO_CLASSES


def test_the_catalogue_command_builds_with_a_photo_model_folder(photo_artifacts, tmp_path):
    from fmnist.core.catalogue import Catalogue
    from fmnist.tag.catalogue import main as catalogue_main

    folder = tmp_path / "model"
    shutil.copytree(photo_artifacts, folder)
    (tmp_path / "new").mkdir()
    Image.new("RGB", (50, 80), (20, 90, 30)).save(tmp_path / "new" / "coat.png")
    assert catalogue_main(["--model-dir", str(folder), "add", str(tmp_path / "new")]) == 0
    built = Catalogue.load(folder / "catalogue.npz")
    assert "coat" in built.rows and built.item(built.rows["coat"])["label"] in PHOTO_CLASSES
    with pytest.raises(ValueError, match="different models"):
        built.merged(fashion_catalogue())


def test_an_old_catalogue_of_class_indices_loads_with_fashion_mnist_names(tmp_path):
    from fmnist import CLASS_NAMES
    from fmnist.core.catalogue import FIELDS, Catalogue

    arrays = dict(zip(FIELDS, fashion_catalogue().arrays(), strict=True)) | {"labels": np.array([9])}
    np.savez(tmp_path / "old.npz", **arrays)
    assert Catalogue.load(tmp_path / "old.npz").item(0)["label"] == CLASS_NAMES[9]


def fashion_catalogue():
    """A one-item catalogue of a Fashion-MNIST model: a 28 × 28 gray thumbnail."""
    from fmnist.core.catalogue import from_embeddings

    return from_embeddings(["x"], ["X"], [9], np.zeros((1, 28, 28), np.uint8), np.ones((1, 256), np.float32))


def test_the_benchmark_keeps_fewer_training_photos_and_scores_the_fashion_mnist_model_by_category(
    shop, serving_artifacts
):
    fewer = own_photos.fewer(shop["listing"], 3)
    with open(fewer, newline="") as file:
        rows = list(csv.DictReader(file))
    assert sum(row["part"] == "train" for row in rows) == 15 and sum(row["part"] == "test" for row in rows) == 10
    scored = own_photos.fashion_mnist_model(shop["listing"], serving_artifacts)
    right = [scored["per_category"][name] * 2 for name in CATEGORIES]  # two test photos a category
    assert set(scored["per_category"]) == set(CATEGORIES) and all(count in (0, 1, 2) for count in right)
    assert scored["test_accuracy"] == sum(right) / 10
