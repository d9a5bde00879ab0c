"""A shop's own catalogue: built from a folder or a CSV, changed item by item, written atomically, served."""

import dataclasses
import io
import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections import Counter

import numpy as np
import pytest
import requests
from PIL import Image

from fmnist.core import catalogue
from fmnist.core.search import normalize
from fmnist.tag.catalogue import main as catalogue_main

from .helpers import api_client, api_server, wait_until


def garment(path, brightness: int, image_format="PNG", size=(60, 80)):
    """A light rectangle (the 'garment') on a dark photo of the given size."""
    picture = Image.new("RGB", size, (10, 10, 10))
    picture.paste((brightness,) * 3, (size[0] // 4, size[1] // 5, 3 * size[0] // 4, 4 * size[1] // 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, format=image_format)
    return path


@pytest.fixture
def shop(tmp_path):
    """A shop's folder: PNG and JPEG photos (one in a subfolder), a broken file and a text file."""
    folder = tmp_path / "shop"
    garment(folder / "red_dress.png", 200)
    garment(folder / "blue-shirt.jpg", 150, "JPEG")
    garment(folder / "winter" / "coat 1.png", 250, size=(90, 90))
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("not a product")
    return folder


def build(serving_artifacts, *arguments):
    return catalogue_main(["--model", str(serving_artifacts / "model.tflite"), *map(str, arguments)])


def test_build_from_a_folder_reports_bad_files_by_name_and_keeps_the_rest(serving_artifacts, shop, tmp_path, capsys):
    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", shop) == 0
    errors = capsys.readouterr().err
    assert "broken.png: skipped" in errors and "notes.txt: skipped" in errors
    built = catalogue.Catalogue.load(path)
    assert sorted(built.ids.tolist()) == ["blue-shirt", "red_dress", "winter-coat-1"]
    assert built.titles[built.rows["red_dress"]] == "red dress" and built.engine == "exact"
    assert built.thumbnails.shape == (3, 28, 28) and built.thumbnails.dtype == np.uint8
    np.testing.assert_allclose(np.linalg.norm(built.vectors, axis=1), 1, atol=1e-5)


def test_the_command_runs_as_a_module_and_describes_the_catalogue(serving_artifacts):
    command = [sys.executable, "-m", "fmnist.tag.catalogue", "--catalogue", str(serving_artifacts / "catalogue.npz")]
    done = subprocess.run([*command, "info"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "30 items, 16-d embeddings, exact search" in done.stdout, done.stderr


def test_build_from_a_csv_with_titles_and_relative_paths(serving_artifacts, shop, tmp_path, capsys):
    listing = tmp_path / "products.csv"
    listing.write_text(
        "id,path,title\nSKU-1,shop/red_dress.png,Red summer dress\nSKU-2,shop/missing.png,Gone\n"
        "SKU 3,shop/blue-shirt.jpg,Bad id\nSKU-4,shop/blue-shirt.jpg\nSKU-1,shop/blue-shirt.jpg,Twice\nonly-one\n"
    )
    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", listing) == 0
    errors = capsys.readouterr().err
    for problem in ("missing.png: skipped", "id 'SKU 3'", "id 'SKU-1' appears twice", "products.csv:7: skipped"):
        assert problem in errors
    built = catalogue.Catalogue.load(path)
    assert built.ids.tolist() == ["SKU-1", "SKU-4"] and built.titles.tolist() == ["Red summer dress", "blue-shirt"]


def test_add_replace_and_remove_items_incrementally(serving_artifacts, shop, tmp_path):
    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", shop) == 0
    first = catalogue.Catalogue.load(path)
    update = tmp_path / "update"
    garment(update / "red_dress.png", 90, size=(40, 90))  # a new photo of an item already there
    garment(update / "hat.png", 220, size=(80, 50))
    assert build(serving_artifacts, "--catalogue", path, "add", update) == 0
    added = catalogue.Catalogue.load(path)
    assert sorted(added.ids.tolist()) == ["blue-shirt", "hat", "red_dress", "winter-coat-1"]
    old, new = first.rows["red_dress"], added.rows["red_dress"]
    assert not np.array_equal(added.thumbnails[new], first.thumbnails[old])
    shirt = added.rows["blue-shirt"]
    np.testing.assert_array_equal(added.vectors[shirt], first.vectors[first.rows["blue-shirt"]])
    assert build(serving_artifacts, "--catalogue", path, "remove", "red_dress", "blue-shirt") == 0
    assert sorted(catalogue.Catalogue.load(path).ids.tolist()) == ["hat", "winter-coat-1"]


def test_errors_leave_the_catalogue_unchanged(serving_artifacts, shop, tmp_path, capsys):
    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", shop) == 0
    before = path.read_bytes()
    assert build(serving_artifacts, "--catalogue", path, "remove", "red_dress", "no-such-item") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build(serving_artifacts, "--catalogue", path, "build", empty) == 1
    assert build(serving_artifacts, "--catalogue", path, "build", tmp_path / "products.xlsx") == 1
    errors = capsys.readouterr().err
    assert "not in the catalogue: no-such-item" in errors and "no readable image" in errors
    assert "neither a folder" in errors
    assert path.read_bytes() == before


def test_an_embeddings_output_without_rows_is_refused_and_the_catalogue_kept(serving_artifacts, shop, tmp_path, capsys):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed: the `ray` extra installs it")
    import pyarrow.parquet as pq

    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", shop) == 0
    before = path.read_bytes()
    vectors = tmp_path / "embeddings"  # what a Ray run writes when every photo was skipped
    vectors.mkdir()
    columns = [("id", pa.string()), ("title", pa.string()), ("class_index", pa.int64()), ("thumbnail", pa.binary())]
    schema = pa.schema([*columns, ("embedding", pa.list_(pa.float32(), 4))])
    pq.write_table(schema.empty_table(), vectors / "part-0.parquet")
    assert build(serving_artifacts, "--catalogue", path, "build", vectors) == 1
    assert "holds no embeddings" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_an_interrupted_write_leaves_the_previous_catalogue(serving_artifacts, shop, tmp_path, monkeypatch):
    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", shop) == 0
    before = path.read_bytes()
    real_savez = np.savez

    def interrupted(file, **arrays):
        real_savez(file, ids=arrays["ids"])  # part of the file is written, then the process is stopped
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(serving_artifacts, "--catalogue", path, "remove", "red_dress")
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_file_that_is_not_a_catalogue_is_named(serving_artifacts, tmp_path):
    (tmp_path / "other.npz").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    whole = (serving_artifacts / "catalogue.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    for name in ("other.npz", "truncated.npz"):
        with pytest.raises(ValueError, match="is not a catalogue file"):
            catalogue.Catalogue.load(tmp_path / name)


def test_search_above_the_threshold_uses_the_ann_engine_and_survives_a_save(monkeypatch, tmp_path):
    monkeypatch.setattr(catalogue, "ANN_THRESHOLD", 100)
    vectors = normalize(np.random.default_rng(0).normal(size=(500, 16)))
    ids = [f"i{n}" for n in range(500)]
    thumbnails = np.zeros((500, 28, 28), np.uint8)
    unindexed = catalogue.from_embeddings(ids, ids, np.zeros(500, int), thumbnails, vectors)
    big = unindexed.indexed()
    assert unindexed.engine == "exact" and big.engine == "faiss-hnsw"
    loaded = catalogue.Catalogue.load(big.save(tmp_path / "big.npz"))
    exact = dataclasses.replace(loaded, ann=None)
    assert loaded.engine == "faiss-hnsw" and exact.engine == "exact"
    assert catalogue.Catalogue.load(unindexed.save(tmp_path / "indexed.npz")).engine == "faiss-hnsw"
    rows, similarities = loaded.search(vectors[:20], 10)
    exact_rows, exact_similarities = exact.search(vectors[:20], 10)
    assert (rows[:, 0] == np.arange(20)).all()  # each vector finds itself first
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact_rows, strict=True)])
    assert recall >= 0.95
    np.testing.assert_allclose(similarities[:, 0], exact_similarities[:, 0], atol=1e-5)


def test_the_api_answers_with_the_shops_ids_titles_and_thumbnails(serving_artifacts, shop, tmp_path):
    path = tmp_path / "catalogue.npz"
    assert build(serving_artifacts, "--catalogue", path, "build", shop) == 0
    with api_client(serving_artifacts, FMNIST_CATALOGUE=str(path)) as client:
        assert client.get("/catalogue").json() == {"items": 3, "engine": "exact", "embedding_size": 16}
        photo = (shop / "red_dress.png").read_bytes()
        answer = client.post("/similar?k=3", files={"file": ("dress.png", photo)}).json()
        first = answer["items"][0]
        assert first["id"] == "red_dress" and first["title"] == "red dress"
        assert first["similarity"] == pytest.approx(1, abs=1e-5)
        assert {item["id"] for item in answer["items"]} == {"red_dress", "blue-shirt", "winter-coat-1"}
        thumbnail = client.get(first["thumbnail"])
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(thumbnail.content)).size == (28, 28)
        page = client.get("/catalogue/items", params={"offset": 1, "limit": 5}).json()
        assert (
            page["total"] == 3
            and [item["id"] for item in page["items"]] == catalogue.Catalogue.load(path).ids.tolist()[1:]
        )
        missing = client.get("/catalogue/items/nothing-here/thumbnail.png")
        assert missing.status_code == 404 and "nothing-here" in missing.json()["detail"]


@pytest.mark.slow  # a server process under load
def test_the_server_swaps_in_a_rebuilt_catalogue_under_load_without_a_failed_request(serving_artifacts, shop, tmp_path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    shutil.copy(serving_artifacts / "model.tflite", artifacts)
    shutil.copy(serving_artifacts / "catalogue.npz", artifacts)
    shutil.copy(serving_artifacts / "review_thresholds.json", artifacts)
    path = artifacts / "catalogue.npz"
    body = (shop / "red_dress.png").read_bytes()  # in the new catalogue only: its answers then include it
    with api_server(artifacts) as (_, url):
        outcomes, seen, stop = Counter(), set(), threading.Event()

        def load():
            with requests.Session() as session:
                while not stop.is_set():
                    try:
                        response = session.post(f"{url}/similar?k=30", files={"file": ("x.png", body)}, timeout=10)
                    except requests.RequestException as error:
                        outcomes[type(error).__name__] += 1
                        continue
                    outcomes[response.status_code] += 1
                    if response.status_code == 200:
                        seen.update(item["id"] for item in response.json()["items"])

        def served_items():
            return json.load(urllib.request.urlopen(f"{url}/catalogue", timeout=5))["items"]

        # daemons, stopped in `finally`: a failure below must not leave them looping on a server that is gone
        clients = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        try:
            for client in clients:
                client.start()
            wait_until(lambda: "item-0" in seen, 30, lambda: f"no answer from the first catalogue in 30 s: {outcomes}")
            assert build(serving_artifacts, "--catalogue", path, "add", shop) == 0
            wait_until(lambda: served_items() == 33, 10, "the server did not pick up the rebuilt catalogue within 10 s")
            wait_until(
                lambda: "red_dress" in seen and outcomes[200] > 50,
                30,
                lambda: f"too few answers after the swap: {outcomes}",
            )
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=30)
    assert set(outcomes) == {200} and outcomes[200] > 50, outcomes
    assert "red_dress" in seen and "item-0" in seen  # answers came from both catalogues


def test_a_broken_catalogue_file_leaves_the_served_one_and_a_good_one_is_picked_up(
    serving_artifacts, shop, tmp_path, caplog
):
    path = tmp_path / "catalogue.npz"
    shutil.copy(serving_artifacts / "catalogue.npz", path)
    with api_client(serving_artifacts, FMNIST_CATALOGUE=str(path)) as client:
        broken = tmp_path / "broken.npz"
        broken.write_bytes(path.read_bytes()[:1000])
        broken.replace(path)  # as an interrupted copy by hand would leave it
        wait_until(lambda: "kept the current catalogue" in caplog.text, 10, "the broken file was not tried in 10 s")
        assert client.get("/catalogue").json()["items"] == 30
        answer = client.post("/similar?k=3", files={"file": ("x.png", (shop / "red_dress.png").read_bytes())})
        assert answer.status_code == 200 and answer.json()["items"][0]["id"].startswith("item-")
        assert build(serving_artifacts, "--catalogue", tmp_path / "new.npz", "build", shop) == 0
        (tmp_path / "new.npz").replace(path)
        wait_until(lambda: client.get("/catalogue").json()["items"] == 3, 10, "the good file was not picked up in 10 s")
