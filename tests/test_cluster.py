"""The tagging pipeline on Ray Data (`fmnist.tag --ray`, `fmnist.tag.ray_pipeline`): the local tagger's answers, from a
folder, a CSV or object storage, with the catalogue's embeddings, on a local cluster and as a submitted job."""

import csv
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from fmnist.core.catalogue import Catalogue
from fmnist.tag.__main__ import main as tag_main
from fmnist.tag.catalogue import main as catalogue_main

from .helpers import free_port, garment_photo

ray = pytest.importorskip("ray", reason="Ray is not installed: the `ray` extra (make setup) installs it")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed: the `ray` extra installs it")
pytestmark = pytest.mark.ray
S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def local_cluster():
    """One local Ray cluster of 2 CPUs for the whole test run; its workers see the object store's test keys."""
    os.environ.update(S3_KEYS)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def options(serving_artifacts) -> list[str]:
    model, thresholds = serving_artifacts / "model.tflite", serving_artifacts / "review_thresholds.json"
    return ["--model", str(model), "--thresholds", str(thresholds), "--quiet"]


def local_rows(serving_artifacts, source, output) -> dict:
    assert tag_main([str(source), "-o", str(output), *options(serving_artifacts)]) == 0
    with open(output, newline="") as file:
        return {row["id"]: row for row in csv.DictReader(file)}


def ray_rows(folder, files=None) -> dict:
    return {row["id"]: row for row in pq.read_table(folder, filesystem=files).to_pylist()}


def assert_same_tags(local: dict, on_ray: dict) -> None:
    """ids, labels and needs_review exactly; the confidence and the margin within 1e-6."""
    assert sorted(on_ray) == sorted(local)
    for item_id, row in local.items():
        theirs = on_ray[item_id]
        assert (theirs["label"], theirs["runner_up"]) == (row["label"], row["runner_up"]), item_id
        assert str(theirs["needs_review"]) == row["needs_review"], item_id
        assert abs(theirs["margin"] - float(row["margin"])) <= 1e-6
        assert abs(theirs["confidence"] - float(row["confidence"])) <= 1e-6


def test_ray_tags_a_folder_as_the_local_tagger_does(serving_artifacts, shop, tmp_path, local_cluster, capsys):
    local = local_rows(serving_artifacts, shop, tmp_path / "local.csv")
    output = tmp_path / "tags"
    output.mkdir()  # made ahead, empty: nothing is done yet
    assert tag_main([str(shop), "--ray", "-o", str(output), *options(serving_artifacts)]) == 0
    assert_same_tags(local, ray_rows(output))
    with open(f"{output}.problems.csv", newline="") as file:
        problems = list(csv.DictReader(file))
    assert [row["path"] for row in problems] == [str(shop / "broken.png")]
    assert "not a readable image" in problems[0]["problem"]
    assert "6 images tagged, 1 skipped" in capsys.readouterr().out


def test_the_actors_flag_for_review_exactly_the_tags_whose_margin_is_below_the_threshold(
    serving_artifacts, shop, tmp_path, local_cluster
):
    """A property over thresholds below every margin of the photos, between two of them and above them all:
    needs_review is margin < threshold on every row. The fixture's own thresholds lie above every margin of its
    untrained model, so they alone cannot tell an actor that applies its threshold from one that flags all."""
    local = local_rows(serving_artifacts, shop, tmp_path / "local.csv")
    margins = sorted({float(row["margin"]) for row in local.values()})
    assert len(margins) >= 2, margins
    middle = len(margins) // 2
    thresholds = {
        "below every margin": (margins[0] / 2, {False}),
        "between two margins": ((margins[middle - 1] + margins[middle]) / 2, {False, True}),
        "above every margin": ((margins[-1] + 1) / 2, {True}),
    }
    for number, (where, (threshold, flags)) in enumerate(thresholds.items()):
        review = tmp_path / f"review-{number}.json"
        review.write_text(json.dumps({"score": "margin", "thresholds": {"0.99": threshold}}))
        output = tmp_path / f"tags-{number}"
        arguments = [str(shop), "--ray", "-o", str(output), "--model", str(serving_artifacts / "model.tflite")]
        assert tag_main([*arguments, "--thresholds", str(review), "--quiet"]) == 0  # the default target, 0.99
        rows = list(ray_rows(output).values())
        assert len(rows) == len(local), where
        assert [row["needs_review"] for row in rows] == [row["margin"] < threshold for row in rows], where
        assert {row["needs_review"] for row in rows} == flags, (where, threshold, margins)


def test_a_rerun_tags_only_the_new_photos_and_a_csv_source_works_too(serving_artifacts, shop, tmp_path, local_cluster):
    listing = tmp_path / "products.csv"
    listing.write_text("id,path,title\nSKU-1,shop/item-1.png,Shirt\nSKU-2,shop/item-2.png,Top\n")
    output = tmp_path / "tags"
    arguments = [str(listing), "--ray", "-o", str(output), "--format", "csv", *options(serving_artifacts)]
    assert tag_main(arguments) == 0
    listing.write_text(listing.read_text() + "SKU-3,shop/item-3.png,Coat\n")
    assert tag_main(arguments) == 0
    with open(f"{output}.problems.csv") as file:
        assert len(file.readlines()) == 1  # the header alone
    files = sorted(output.glob("*.csv"))
    rows = [row for path in files for row in csv.DictReader(open(path, newline=""))]
    assert sorted(row["id"] for row in rows) == ["SKU-1", "SKU-2", "SKU-3"] and len(files) == 2
    local = local_rows(serving_artifacts, listing, tmp_path / "local.csv")
    assert_same_tags(local, {row["id"]: row | {k: float(row[k]) for k in ("margin", "confidence")} for row in rows})


def test_the_embeddings_output_builds_the_catalogue_that_the_photos_build(
    serving_artifacts, shop, tmp_path, local_cluster
):
    vectors = tmp_path / "embeddings"
    arguments = [str(shop), "--ray", "-o", str(tmp_path / "tags"), "--embeddings", str(vectors)]
    assert tag_main([*arguments, *options(serving_artifacts)]) == 0
    model = ["--model", str(serving_artifacts / "model.tflite")]
    assert catalogue_main(["--catalogue", str(tmp_path / "ray.npz"), *model, "build", str(vectors)]) == 0
    assert catalogue_main(["--catalogue", str(tmp_path / "here.npz"), *model, "build", str(shop)]) == 0
    on_ray, here = (Catalogue.load(tmp_path / name) for name in ("ray.npz", "here.npz"))
    order = [on_ray.rows[item_id] for item_id in here.ids]
    assert sorted(on_ray.ids) == sorted(here.ids) and len(here) == 6
    np.testing.assert_allclose(on_ray.vectors[order], here.vectors, atol=1e-6)
    np.testing.assert_array_equal(on_ray.labels[order], here.labels)
    np.testing.assert_array_equal(on_ray.thumbnails[order], here.thumbnails)
    np.testing.assert_array_equal(on_ray.titles[order], here.titles)


@pytest.fixture
def object_store(monkeypatch):
    """An S3-compatible server on 127.0.0.1 (moto), with the test keys; its URL query for pyarrow."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed (the test group)")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for key, value in S3_KEYS.items():
        monkeypatch.setenv(key, value)
    yield f"endpoint_override=127.0.0.1:{port}&scheme=http&allow_bucket_creation=true"
    server.stop()


def test_photos_in_object_storage_are_tagged_into_object_storage(
    serving_artifacts, shop, tmp_path, local_cluster, object_store
):
    from pyarrow import fs

    files, _ = fs.FileSystem.from_uri(f"s3://shop?{object_store}")
    files.create_dir("shop")
    for path in sorted(p for p in shop.rglob("*") if p.is_file()):
        with files.open_output_stream(f"shop/photos/{path.relative_to(shop).as_posix()}") as stream:
            stream.write(path.read_bytes())
    source, output = f"s3://shop/photos?{object_store}", f"s3://shop/tags?{object_store}"
    assert tag_main([source, "--ray", "-o", output, *options(serving_artifacts)]) == 0
    local = local_rows(serving_artifacts, shop, tmp_path / "local.csv")
    assert_same_tags(local, ray_rows("shop/tags", files))
    with files.open_input_stream("shop/tags.problems.csv") as stream:
        assert "shop/photos/broken.png" in stream.read().decode()


@pytest.fixture
def ray_head(tmp_path):
    """A cluster started by `ray start --head --block`, every server on 127.0.0.1, token authentication on:
    (the `ray` command, the dashboard's address, the environment that holds the token, the head's log)."""
    ray_command = shutil.which("ray", path=os.path.dirname(sys.executable))
    if ray_command is None:
        pytest.skip("the `ray` command is not in the venv")
    # A client that does not set RAY_AUTH_MODE=token sends no token, and a head with one refuses it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {"RAY_USAGE_STATS_ENABLED": "0"}
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    # `ray start` replaces 127.0.0.1 by the machine's address, for other nodes to reach; Ray's switch for a
    # cluster of one machine (its default on macOS and Windows) keeps every server on 127.0.0.1.
    env |= {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    dashboard, log = free_port(), tmp_path / "head.log"
    for _ in range(2):  # a loaded machine can miss Ray's fixed 30 s for the node to register: once more
        temp = tempfile.mkdtemp(prefix="ray-")  # short: a Unix socket's path holds at most 107 bytes
        head = [ray_command, "start", "--head", "--block", "--port", str(free_port()), "--num-cpus", "2"]
        head += ["--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--temp-dir", temp]
        head += ["--include-dashboard", "true", "--ray-client-server-port", str(free_port())]
        # Ports of its own where Ray's defaults are fixed: the session's local cluster holds them already.
        head += ["--dashboard-agent-listen-port", str(free_port())]
        with open(log, "w") as file:
            cluster = subprocess.Popen(head, env=env, start_new_session=True, stdout=file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while cluster.poll() is None and "will now block" not in log.read_text():
            if time.monotonic() > deadline:  # neither up nor failed: stopped, and counted as a failed start
                os.killpg(cluster.pid, signal.SIGTERM)
                cluster.wait(timeout=60)
            time.sleep(0.5)
        if cluster.poll() is None:
            break
        shutil.rmtree(temp, ignore_errors=True)
    assert cluster.poll() is None, log.read_text()[-3000:]
    yield ray_command, f"http://127.0.0.1:{dashboard}", env, log
    os.killpg(cluster.pid, signal.SIGTERM)  # `ray start --block` stops what it started
    cluster.wait(timeout=60)
    shutil.rmtree(temp, ignore_errors=True)


def test_a_job_submitted_to_a_cluster_started_with_ray_start(serving_artifacts, tmp_path, ray_head):
    """`ray job submit --working-dir` to a cluster started with `ray start --head`: the job's output checked."""
    ray_command, address, env, log = ray_head
    work = tmp_path / "job"
    work.mkdir()
    shutil.copy(serving_artifacts / "model.tflite", work / "model.tflite")
    shutil.copy(serving_artifacts / "review_thresholds.json", work / "review_thresholds.json")
    garment_photo(work / "photos" / "one.png", 120)
    garment_photo(work / "photos" / "two.png", 200)
    entrypoint = [sys.executable, "-m", "fmnist.tag", "photos", "--ray", "-o", str(tmp_path / "tags")]
    entrypoint += ["--model", "model.tflite", "--thresholds", "review_thresholds.json", "--quiet"]
    submit = [ray_command, "job", "submit", "--address", address, "--working-dir", str(work), "--", *entrypoint]
    for _ in range(120):  # the dashboard's job server and its agent take some seconds to come up
        done = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode == 0 or not re.search("Failed to connect|try again later", done.stdout + done.stderr):
            break
        time.sleep(1)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:] + log.read_text()[-3000:]
    assert "2 images tagged, 0 skipped" in done.stdout
    assert sorted(ray_rows(tmp_path / "tags")) == ["one", "two"]
