"""The tagging pipeline on Ray Data (`fmnist.tag --ray`, `fmnist.tag.ray_pipeline`): the local tagger's answers, from a
folder, a CSV or object storage, with the catalogue's embeddings, on a local cluster and as a job submitted to two
nodes started with `ray start`."""

import contextlib
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
from fmnist.core.model_folder import read_spec
from fmnist.tag import ray_pipeline
from fmnist.tag.__main__ import main as tag_main
from fmnist.tag.catalogue import main as catalogue_main

from .helpers import PHOTO_CLASSES, REVIEW_THRESHOLDS, TINY_PHOTO_MODEL, free_port, garment_photo

ray = pytest.importorskip("ray", reason="Ray is not installed: the `ray` extra (make setup) installs it")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed: the `ray` extra installs it")
pyarrow = pytest.importorskip("pyarrow", reason="pyarrow is not installed: the `ray` extra installs it")
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
    untrained model, so they alone cannot tell an actor that applies its threshold from one that flags all.
    Last, an image check that every photo fails sends every tag to a person, whatever its margin."""
    local = local_rows(serving_artifacts, shop, tmp_path / "local.csv")
    margins = sorted({float(row["margin"]) for row in local.values()})
    assert len(margins) >= 2, margins
    middle = len(margins) // 2
    thresholds = {
        "below every margin": (margins[0] / 2, {False}),
        "between two margins": ((margins[middle - 1] + margins[middle]) / 2, {False, True}),
        "above every margin": ((margins[-1] + 1) / 2, {True}),
    }

    def ray_tags(name: str, review: dict) -> list[dict]:  # the rows the actors write under this review file
        path, output = tmp_path / f"{name}.json", tmp_path / name
        path.write_text(json.dumps(review))
        arguments = [str(shop), "--ray", "-o", str(output), "--model", str(serving_artifacts / "model.tflite")]
        assert tag_main([*arguments, "--thresholds", str(path), "--quiet"]) == 0  # the default target, 0.99
        rows = list(ray_rows(output).values())
        assert len(rows) == len(local), name
        return rows

    for number, (where, (threshold, flags)) in enumerate(thresholds.items()):
        rows = ray_tags(f"tags-{number}", {"score": "margin", "thresholds": {"0.99": threshold}})
        assert [row["needs_review"] for row in rows] == [row["margin"] < threshold for row in rows], where
        assert {row["needs_review"] for row in rows} == flags, (where, threshold, margins)
        assert {row["image_check"] for row in rows} == {"ok"}, where  # a file without limits makes no check
    rows = ray_tags("checked", {"thresholds": {"0.99": margins[0] / 2}, "image_limits": {"cut_off": -1.0}})
    assert all(row["needs_review"] and row["image_check"] == "cut_off" for row in rows)


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


@pytest.mark.parametrize("with_new_tags", [False, True], ids=["old tags alone", "old tags after new ones"])
def test_an_output_written_before_the_image_checks_is_left_as_it_is_and_the_run_refused(
    serving_artifacts, shop, tmp_path, capsys, with_new_tags
):
    output = tmp_path / "tags"
    output.mkdir()
    old = {"id": ["SKU-1"], "label": ["Bag"], "confidence": [0.75], "needs_review": [False], "runner_up": ["Top"]}
    pq.write_table(pyarrow.table(old | {"margin": [0.5]}), output / "old.parquet")
    if with_new_tags:  # a file in the tagger's columns first: the dataset's schema is the first file's
        pq.write_table(pyarrow.table(old | {"margin": [0.5], "image_check": ["ok"]}), output / "a-new.parquet")
    before = {path.name: path.read_bytes() for path in output.iterdir()}
    assert tag_main([str(shop), "--ray", "-o", str(output), *options(serving_artifacts)]) == 2
    assert "move it away" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in output.iterdir()} == before


def test_an_output_that_does_not_read_in_the_chosen_format_is_left_as_it_is_and_the_run_refused(
    serving_artifacts, shop, tmp_path, capsys
):
    output = tmp_path / "tags"
    output.mkdir()
    (output / "tags.parquet").write_text("id,label\nSKU-1,Bag\n")  # CSV text where Parquet is asked for
    assert tag_main([str(shop), "--ray", "-o", str(output), *options(serving_artifacts)]) == 2
    assert "move it away" in capsys.readouterr().err
    assert (output / "tags.parquet").read_text() == "id,label\nSKU-1,Bag\n"


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


def uploaded(shop, object_store, bucket="shop"):
    """The shop's files copied to s3://BUCKET/photos on the object store (moto keeps one store for the whole test
    run); its pyarrow filesystem."""
    from pyarrow import fs

    files, _ = fs.FileSystem.from_uri(f"s3://{bucket}?{object_store}")
    files.create_dir(bucket)
    for path in sorted(p for p in shop.rglob("*") if p.is_file()):
        with files.open_output_stream(f"{bucket}/photos/{path.relative_to(shop).as_posix()}") as stream:
            stream.write(path.read_bytes())
    return files


def test_photos_in_object_storage_are_tagged_into_object_storage(
    serving_artifacts, shop, tmp_path, local_cluster, object_store
):
    files = uploaded(shop, object_store)
    source, output = f"s3://shop/photos?{object_store}", f"s3://shop/tags?{object_store}"
    assert tag_main([source, "--ray", "-o", output, *options(serving_artifacts)]) == 0
    local = local_rows(serving_artifacts, shop, tmp_path / "local.csv")
    assert_same_tags(local, ray_rows("shop/tags", files))
    with files.open_input_stream("shop/tags.problems.csv") as stream:
        assert "shop/photos/broken.png" in stream.read().decode()


def test_the_reads_go_into_the_actors_where_the_actors_could_leave_no_node_a_whole_cpu():
    """A read task asks for a whole CPU while some node keeps one beside its actors wherever Ray places them;
    else the actors' share, on which Ray fuses the reads into the actors. Nodes given by their CPUs."""
    whole, shared = 1.0, 0.5
    assert ray_pipeline.read_cpus([2], 2, 0.5) == whole  # the benchmark's cluster: one CPU left for the reads
    assert ray_pipeline.read_cpus([2], 3, 0.5) == shared
    assert ray_pipeline.read_cpus([1, 1], 1, 0.5) == whole  # the node without the actor has its CPU free
    assert ray_pipeline.read_cpus([1, 1], 2, 0.5) == shared  # an actor on each node: half a CPU left on each
    assert ray_pipeline.read_cpus([1, 1], 4, 0.5) == shared  # the actors fill both nodes
    assert ray_pipeline.read_cpus([2, 2], 4, 0.5) == whole  # two actors on each node leave a CPU on each
    assert ray_pipeline.read_cpus([2, 2], 6, 0.5) == shared
    assert ray_pipeline.read_cpus([0, 4], 6, 0.5) == whole  # a head of no CPU holds nothing
    assert ray_pipeline.read_cpus([0, 4], 7, 0.5) == shared
    assert ray_pipeline.read_cpus([1.5, 3], 4, 0.5) == whole and ray_pipeline.read_cpus([1.5, 3], 7, 0.5) == shared
    assert ray_pipeline.read_cpus([4], 12, 0.25) == whole and ray_pipeline.read_cpus([4], 13, 0.25) == 0.25
    assert ray_pipeline.read_cpus([], 2, 0.5) == shared  # no node yet (an autoscaling cluster): the actors read


def start_node(command: list[str], env: dict, log) -> subprocess.Popen:
    """A Ray node started by `command` (`ray start ... --block`) in a process group of its own, once it says it
    is up; once more when it fails, for a loaded machine can miss Ray's fixed 30 s for a node to register."""
    for _ in range(2):
        with open(log, "w") as file:
            node = subprocess.Popen(command, env=env, start_new_session=True, stdout=file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while node.poll() is None and "will now block" not in log.read_text():
            if time.monotonic() > deadline:  # neither up nor failed: stopped, and counted as a failed start
                stop_nodes(node)
            time.sleep(0.5)
        if node.poll() is None:
            return node
    pytest.fail(f"the node did not start: {command}\n{log.read_text()[-3000:]}")


def stop_nodes(*nodes: subprocess.Popen) -> None:
    """`ray start --block` stops what it started on SIGTERM; what is left of its process group after 20 s is
    killed."""
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while any(node.poll() is None or group_alive(node.pid) for node in nodes) and time.monotonic() < deadline:
        time.sleep(0.2)
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.wait(timeout=20)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


# A node that joins the head: `ray start`'s own command line, with its one guess of this machine's address answered
# 127.0.0.1. Left to guess, it replaces 127.0.0.1 in `--address` by the machine's network address, for other
# machines to reach, and the node's servers then listen on every interface.
JOIN = (
    "import ray._private.services as services, ray.scripts.scripts as scripts; "
    "services.get_node_ip_address = lambda *_: '127.0.0.1'; scripts.main()"
)


@pytest.fixture
def two_nodes(tmp_path):
    """Two Ray nodes of one CPU each on 127.0.0.1, started with `ray start` (the head, then a node that joins it
    with `--address`), each with a temp dir of its own, as from an activated venv, token authentication on:
    (the `ray` command, the dashboard's address, the environment that holds the token). Stopped at the end."""
    bin_dir = os.path.dirname(sys.executable)
    ray_command = shutil.which("ray", path=bin_dir)
    if ray_command is None:
        pytest.skip("the `ray` command is not in the venv")
    # Activated: the venv's `python` and `ray` come first on PATH, so `python -m fmnist.tag` finds the project.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "VIRTUAL_ENV"))} | S3_KEYS
    env |= {"PATH": bin_dir + os.pathsep + env.get("PATH", ""), "VIRTUAL_ENV": os.path.dirname(bin_dir)}
    # A client that does not set RAY_AUTH_MODE=token sends no token, and a head with one refuses it.
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
    # Ray Data starts tagging with the first actor that is up; here it waits for the whole pool, so that a job of a
    # few photos places both actors before it ends, and the test can check where they were placed.
    env |= {"RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": "100"}
    # Ray's switch for a cluster of one machine keeps the head's servers, and the job's driver, on 127.0.0.1.
    head_env = env | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    port, dashboard = free_port(), free_port()
    temps = [tempfile.mkdtemp(prefix="ray-") for _ in range(2)]  # short: a Unix socket's path holds 107 bytes
    head = [ray_command, "start", "--head", "--block", "--port", str(port), "--num-cpus", "1", "--temp-dir", temps[0]]
    head += ["--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--include-dashboard", "true"]
    # Ports of their own where Ray's defaults are fixed: the session's local cluster holds them already.
    head += ["--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port())]
    worker = [sys.executable, "-c", JOIN, "start", "--block", "--address", f"127.0.0.1:{port}", "--num-cpus", "1"]
    worker += ["--temp-dir", temps[1], "--dashboard-agent-listen-port", str(free_port())]
    nodes = []
    try:
        nodes.append(start_node(head, head_env, tmp_path / "head.log"))
        nodes.append(start_node(worker, env, tmp_path / "worker.log"))
        yield ray_command, f"http://127.0.0.1:{dashboard}", env
    finally:
        stop_nodes(*nodes)
        for temp in temps:
            shutil.rmtree(temp, ignore_errors=True)


def submitted(command: list[str], env: dict, seconds: float) -> subprocess.CompletedProcess:
    """`ray job submit ...` run to its end within `seconds`, once the dashboard's job server answers."""
    for _ in range(120):  # the dashboard's job server and its agent take some seconds to come up
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds)
        if done.returncode == 0 or not re.search("Failed to connect|try again later", done.stdout + done.stderr):
            return done
        time.sleep(1)
    return done


def test_a_job_submitted_as_docs_scale_md_writes_it_tags_on_two_nodes_of_one_cpu(
    serving_artifacts, shop, tmp_path, object_store, two_nodes
):
    """docs/scale.md's `ray job submit` on two nodes of one CPU, each of which holds one actor of half a CPU:
    the shape in which a read task of a whole CPU found no node and the job hung. It ends within 2 minutes with
    the local tagger's tags and the catalogue's embeddings, and the actors were placed on both nodes."""
    ray_command, address, env = two_nodes
    files = uploaded(shop, object_store, bucket="nodes")  # a bucket of its own: the other tests wrote to "shop"
    models = tmp_path / "models"  # the model files, as `make run` leaves them
    models.mkdir()
    shutil.copy(serving_artifacts / "model.tflite", models / "fashion_cnn.tflite")
    shutil.copy(serving_artifacts / "review_thresholds.json", models / "review_thresholds.json")
    tags, vectors = f"s3://nodes/tags?{object_store}", f"s3://nodes/embeddings?{object_store}"
    entrypoint = ["python", "-m", "fmnist.tag", f"s3://nodes/photos?{object_store}", "--ray", "-o", tags]
    entrypoint += ["--embeddings", vectors, "--model-dir", "."]
    submit = [ray_command, "job", "submit", "--address", address, "--working-dir", str(models), "--"]
    started = time.monotonic()
    try:
        done = submitted([*submit, *entrypoint, "--actors", "2"], env, seconds=120)
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"the job ran past 2 minutes: {(timeout.stdout or b'').decode()[-3000:]}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "6 images tagged, 1 skipped" in done.stdout, done.stdout[-3000:]
    assert time.monotonic() - started < 120
    assert_same_tags(local_rows(serving_artifacts, shop, tmp_path / "local.csv"), ray_rows("nodes/tags", files))
    model = ["--model", str(serving_artifacts / "model.tflite")]
    assert catalogue_main(["--catalogue", str(tmp_path / "here.npz"), *model, "build", str(shop)]) == 0
    here, on_ray = (
        Catalogue.load(tmp_path / "here.npz"),
        ray_pipeline.read_embeddings(vectors, read_spec(serving_artifacts / "model.tflite")),
    )
    np.testing.assert_allclose(on_ray.vectors[[on_ray.rows[item_id] for item_id in here.ids]], here.vectors, atol=1e-6)
    listing = [ray_command, "list", "actors", "--address", address, "--detail", "--format", "json", "--limit", "1000"]
    actors = json.loads(subprocess.run(listing, env=env, capture_output=True, text=True, timeout=60, check=True).stdout)
    taggers = [actor for actor in actors if "Tagger" in actor["class_name"]]
    assert len(taggers) == 2 and len({actor["node_id"] for actor in taggers} - {None}) == 2, taggers


def test_a_model_folder_of_a_photo_model_tags_on_ray_as_here(tmp_path, local_cluster):
    """`--model-dir` with a model trained on photos (32 × 32 colour, classes of its own): Ray's tags are the
    local tagger's, in the model's classes."""
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(TINY_PHOTO_MODEL, folder / "shop.tflite")
    (folder / "review_thresholds.json").write_text(json.dumps(REVIEW_THRESHOLDS))
    for number in range(6):
        garment_photo(tmp_path / "photos" / f"item-{number}.jpg", 60 + 30 * number, kind="JPEG", size=(120, 160))
    common = [str(tmp_path / "photos"), "--model-dir", str(folder), "--quiet"]
    assert tag_main([*common, "-o", str(tmp_path / "here.csv")]) == 0
    assert tag_main([*common, "--ray", "-o", str(tmp_path / "tags")]) == 0
    with open(tmp_path / "here.csv", newline="") as file:
        local = {row["id"]: row for row in csv.DictReader(file)}
    assert_same_tags(local, ray_rows(tmp_path / "tags"))
    assert {row["label"] for row in local.values()} <= set(PHOTO_CLASSES) and len(local) == 6
