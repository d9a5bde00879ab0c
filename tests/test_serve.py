import io
import itertools
import json
import os
import re
import urllib.request

import numpy as np
import pytest
from PIL import Image

from fmnist import CLASS_NAMES
from fmnist.core import images, inference, occlusion, runtime
from fmnist.core.review import ReviewRule
from fmnist.serve import __main__ as command_line
from fmnist.serve import settings

from .helpers import api_client, api_server, png_bytes


@pytest.fixture(scope="module")
def client(serving_artifacts):
    with api_client(serving_artifacts) as test_client:
        yield test_client


def noise_png(size=200):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_prediction(answer):
    assert 0 <= answer["class_index"] < 10 and answer["label"] == CLASS_NAMES[answer["class_index"]]
    assert list(answer["probabilities"]) == list(CLASS_NAMES)
    assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-4)


def assert_still_serving(client):
    assert client.post("/predict", files={"file": ("x.png", png_bytes())}).status_code == 200


def test_healthz_reports_the_model_and_the_classes(client):
    answer = client.get("/healthz").json()
    assert answer["status"] == "ok" and answer["classes"] == list(CLASS_NAMES)
    assert len(answer["model_sha256"]) == 64 and answer["catalogue_items"] == 30


@pytest.mark.parametrize(
    ("mode", "color", "image_format"),
    [
        ("L", 0, "PNG"),
        ("RGB", (200, 10, 10), "JPEG"),
        ("RGBA", (0, 0, 0, 0), "PNG"),
        ("I;16", 40000, "PNG"),
        ("RGB", (255, 255, 255), "WEBP"),
    ],
)
def test_predict_accepts_common_formats_and_modes(client, mode, color, image_format):
    buffer = io.BytesIO()
    Image.new(mode, (300, 120), color).save(buffer, format=image_format)
    response = client.post("/predict", files={"file": ("photo", buffer.getvalue())})
    assert response.status_code == 200, response.text
    assert_prediction(response.json())


def test_predict_accepts_raw_bytes_and_json_pixels(client):
    raw = client.post("/predict", content=png_bytes(), headers={"content-type": "image/png"})
    pixels = client.post("/predict", json={"pixels": [[0] * 28] * 28})
    assert raw.status_code == pixels.status_code == 200
    assert raw.json() == pixels.json()


def test_batch_returns_one_prediction_per_image(client):
    files = [("files", (f"{i}.png", png_bytes(color=i * 20))) for i in range(3)]
    answer = client.post("/predict/batch", files=files).json()
    assert len(answer["predictions"]) == 3
    for prediction in answer["predictions"]:
        assert_prediction(prediction)
    as_json = client.post("/predict/batch", json={"images": [[[0] * 28] * 28] * 2})
    assert len(as_json.json()["predictions"]) == 2


def photos_of_noise(count: int, rng) -> list[bytes]:
    """PNG photos of distinct random pictures, each of its own size (28 to 400 pixels a side)."""
    photos = []
    for _ in range(count):
        picture = Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8))
        buffer = io.BytesIO()
        picture.resize(tuple(int(side) for side in rng.integers(28, 401, 2))).save(buffer, format="PNG")
        photos.append(buffer.getvalue())
    return photos


def answer_numbers(answer: dict) -> list:
    return [answer["confidence"], answer["margin"], *answer["probabilities"].values()]


def test_each_answer_of_a_batch_belongs_to_its_own_image_whatever_the_order(client):
    """A property over 30 batches, each a random selection of distinct photos in a random order: the i-th answer
    is what /predict answers for the i-th photo alone (its numbers to within rounding across batch sizes)."""
    rng = np.random.default_rng(0)
    photos = photos_of_noise(8, rng)
    singles = [client.post("/predict", files={"file": ("x.png", photo)}).json() for photo in photos]
    for first, second in itertools.combinations(singles, 2):  # distinct answers, so that a swap would show
        assert np.abs(np.subtract(answer_numbers(first), answer_numbers(second))).max() > 1e-4
    for _ in range(30):
        order = rng.permutation(len(photos))[: rng.integers(2, len(photos) + 1)]
        files = [("files", (f"{index}.png", photos[index])) for index in order]
        answers = client.post("/predict/batch", files=files).json()["predictions"]
        assert len(answers) == len(order)
        for answer, index in zip(answers, order, strict=True):
            expected = singles[index]
            assert (answer["label"], answer["runner_up"]) == (expected["label"], expected["runner_up"]), order
            assert answer["needs_review"] == expected["needs_review"], order
            assert answer_numbers(answer) == pytest.approx(answer_numbers(expected), abs=1e-5), order


def test_similar_returns_k_items_most_similar_first(client):
    answer = client.post("/similar?k=4", files={"file": ("x.png", png_bytes(color=90))}).json()
    assert len(answer["items"]) == 4
    similarities = [item["similarity"] for item in answer["items"]]
    assert similarities == sorted(similarities, reverse=True)
    for item in answer["items"]:
        assert item["id"] in {f"item-{n}" for n in range(30)} and item["title"] == f"Item {item['id'][5:]}"
        assert item["label"] in CLASS_NAMES and item["thumbnail"] == f"/catalogue/items/{item['id']}/thumbnail.png"
    assert_prediction(answer["query"])


def bomb_png():
    """A PNG whose header claims 50,000 × 50,000 pixels: 2.5 gigapixels if decoded."""
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("request_kwargs", "path", "status", "message"),
    [
        ({"content": b"", "headers": {"content-type": "image/png"}}, "/predict", 400, "no image data"),
        ({"files": {"file": ("x.png", b"this is not an image")}}, "/predict", 400, "not a readable image"),
        ({"files": {"file": ("x.png", noise_png()[:5000])}}, "/predict", 400, "not a readable image"),
        ({"files": {"file": ("bomb.png", bomb_png())}}, "/predict", 413, "limit"),
        (
            {"content": b"\0" * (settings.MAX_UPLOAD_BYTES + 1), "headers": {"content-type": "image/png"}},
            "/predict",
            413,
            "limit",
        ),
        ({"json": {"pixels": [[0] * 27] * 28}}, "/predict", 422, "at least 28 items"),
        ({"json": {"pixels": [[300] * 28] * 28}}, "/predict", 422, "less than or equal to 255"),
        ({"json": {"pixels": [[-1] * 28] * 28}}, "/predict", 422, "greater than or equal to 0"),
        (
            {
                "content": json.dumps({"pixels": [[float("nan")] * 28] * 28}),
                "headers": {"content-type": "application/json"},
            },
            "/predict",
            422,
            "finite number",
        ),
        ({"json": {"pixels": [["1"] * 28] * 28}}, "/predict", 422, "valid number"),
        (
            {"content": json.dumps({"pixels": [[10**400] * 28] * 28}), "headers": {"content-type": "application/json"}},
            "/predict",
            422,
            "finite number",
        ),
        (
            {"content": "[" * 100_000 + "]" * 100_000, "headers": {"content-type": "application/json"}},
            "/predict",
            422,
            "recursion limit",
        ),
        ({"json": {"pixels": "abc"}}, "/predict", 422, "valid array"),
        ({"json": [1, 2, 3]}, "/predict", 422, "an object"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "/predict", 422, "Invalid JSON"),
        ({"json": {"images": [[[0] * 28] * 28] * (settings.MAX_BATCH + 1)}}, "/predict/batch", 422, "at most 64 items"),
        ({"files": [("files", ("x.png", png_bytes()))] * (settings.MAX_BATCH + 1)}, "/predict/batch", 413, "at most"),
        ({"files": {"file": ("x.png", png_bytes())}}, "/similar?k=0", 422, "between 1 and"),
        ({"files": {"file": ("x.png", png_bytes())}}, f"/similar?k={settings.MAX_K + 1}", 422, "between 1 and"),
        ({"files": {"file": ("x.png", png_bytes())}}, "/similar?k=many", 422, "valid integer"),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, "/predict", 415, "unsupported content type"),
        ({"files": {"other": ("x.png", png_bytes())}}, "/predict", 422, '"file"'),
        ({"files": [("file", ("a.png", png_bytes())), ("file", ("b.png", png_bytes()))]}, "/predict", 422, "one image"),
        ({"files": {"file": ("x.png", b"this is not an image")}}, "/explain", 400, "not a readable image"),
        ({"files": {"file": ("bomb.png", bomb_png())}}, "/explain", 413, "limit"),
        ({"json": {"pixels": [[300] * 28] * 28}}, "/explain", 422, "less than or equal to 255"),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, "/explain", 415, "unsupported content type"),
        ({"files": {"file": ("x.png", png_bytes())}}, "/explain?format=gif", 422, "'json' or 'png'"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_the_server_keeps_serving(client, request_kwargs, path, status, message):
    response = client.post(path, **request_kwargs)
    assert response.status_code == status, response.text
    assert message in str(response.json()["detail"])
    assert_still_serving(client)


def test_a_large_photo_decodes_off_the_event_loop_and_gives_the_same_answer(client):
    photo = np.full((1400, 1400), 255, dtype=np.uint8)  # over INLINE_PIXELS: decoded in a worker thread
    photo[300:1100, 500:900] = np.random.default_rng(4).integers(0, 120, (800, 400), dtype=np.uint8)
    assert photo.size > settings.INLINE_PIXELS
    large = io.BytesIO()
    Image.fromarray(photo).save(large, format="PNG")
    answer = client.post("/predict", files={"file": ("x.png", large.getvalue())}).json()
    picture = images.decode(images.open_image(large.getvalue()))
    _, expected = client.app.state.service.predictor.classifier(picture[None])
    assert list(answer["probabilities"].values()) == pytest.approx(expected[0].tolist(), abs=1e-5)


def test_explain_returns_the_prediction_and_a_28_by_28_map(client):
    response = client.post("/explain", files={"file": ("x.png", noise_png())})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_prediction(answer["prediction"])
    assert answer["method"] == "occlusion"
    heat = np.array(answer["map"])
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() <= 1


@pytest.mark.parametrize("how", [{"headers": {"accept": "image/png"}}, {"params": {"format": "png"}}])
def test_explain_returns_an_overlay_picture_when_asked_for_png(client, how):
    response = client.post("/explain", files={"file": ("x.png", noise_png())}, **how)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(response.content))
    assert picture.size == (224, 224) and picture.mode == "RGB"


def test_explain_map_matches_the_library_on_json_pixels(client, serving_artifacts):
    pixels = np.random.default_rng(3).integers(0, 256, (28, 28))
    answer = client.post("/explain", json={"pixels": pixels.tolist()}).json()
    classifier = runtime.TFLiteClassifier(serving_artifacts / "model.tflite")
    expected = occlusion.occlusion(lambda batch: classifier(batch)[1], (pixels / 255.0)[np.newaxis, ..., np.newaxis])
    np.testing.assert_allclose(answer["map"], expected[0], atol=2e-3)


def test_the_interactive_docs_load_every_asset_from_the_app_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "openapi.json" in page.text and client.get("/openapi.json").status_code == 200


def test_similar_k_beyond_the_catalogue_is_refused(client):
    response = client.post("/similar?k=31", files={"file": ("x.png", png_bytes())})
    assert response.status_code == 422 and "between 1 and 30" in response.json()["detail"]


def test_a_missing_model_stops_startup_with_a_clear_message_and_its_cause(serving_artifacts, tmp_path):
    with pytest.raises(RuntimeError, match="make run") as stopped:
        with api_client(serving_artifacts, FMNIST_MODEL=str(tmp_path / "missing.tflite")):
            pass
    assert "FMNIST_MODEL=" in str(stopped.value) and isinstance(stopped.value.__cause__, (OSError, ValueError))


def test_the_settings_read_the_documented_variables_and_default_to_make_runs_folder(monkeypatch, tmp_path):
    variables = {
        "FMNIST_MODEL_DIR": str(tmp_path),
        "FMNIST_MODEL": "a.tflite",
        "FMNIST_CATALOGUE": "b.npz",
        "FMNIST_REVIEW_THRESHOLDS": "c.json",
        "FMNIST_TARGET_ACCURACY": "0.995",
        "FMNIST_DRAIN_SECONDS": "2.5",
    }
    for name in variables:
        monkeypatch.delenv(name, raising=False)
    defaults = settings.Settings()
    assert (defaults.model_dir, defaults.model, defaults.catalogue) == (inference.DEFAULT_MODEL_DIR, None, None)
    assert (defaults.review_thresholds, defaults.target_accuracy, defaults.drain_seconds) == (None, "0.99", 0)
    for name in ("shop.tflite", "shop_int8.tflite"):  # the folder's model, and its int8 copy beside it
        (tmp_path / name).touch()
    monkeypatch.setenv("FMNIST_MODEL_DIR", str(tmp_path))
    folder = settings.files(settings.Settings())
    assert folder == (tmp_path / "shop.tflite", tmp_path / "review_thresholds.json", tmp_path / "catalogue.npz")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    read = settings.Settings()
    assert tuple(map(str, settings.files(read))) == ("a.tflite", "c.json", "b.npz")
    assert (read.target_accuracy, read.drain_seconds) == ("0.995", 2.5)


@pytest.mark.slow
def test_a_real_server_process_answers_over_http(serving_artifacts):
    with api_server(serving_artifacts) as (_, url):
        request = urllib.request.Request(f"{url}/predict", data=png_bytes(), headers={"content-type": "image/png"})
        assert_prediction(json.load(urllib.request.urlopen(request, timeout=5)))


def test_the_server_runs_on_uvicorns_own_options(monkeypatch):
    """`python -m fmnist.serve` is `uvicorn fmnist.serve.app:app` with its documented options, and hands the
    drain time to the worker processes through the environment."""
    ran = []
    monkeypatch.setattr(command_line.uvicorn, "run", lambda app, **options: ran.append((app, options)))
    monkeypatch.delenv("FMNIST_DRAIN_SECONDS", raising=False)
    command_line.main(["--port", "0", "--workers", "2", "--drain-seconds", "5"])
    ((app, options),) = ran
    assert app == "fmnist.serve.app:app"
    assert options["workers"] == 2 and options["port"] == 0 and options["timeout_graceful_shutdown"] == 30
    assert os.environ["FMNIST_DRAIN_SECONDS"] == "5.0"


def test_readiness_is_200_while_serving_and_503_once_shutdown_starts(client):
    assert client.get("/readyz").json() == {"status": "ready"}
    client.app.state.service.ready = False  # what SIGTERM does (tests/test_graceful.py sends a real one)
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert client.get("/healthz").status_code == 200  # alive: only new traffic should go elsewhere
    finally:
        client.app.state.service.ready = True


def test_predict_says_whether_a_person_should_review_the_tag(client):
    """needs_review: the margin over the runner-up is below the threshold for the target accuracy (0.99); the
    fixture's review file, written as before the image checks, makes none."""
    review = {"target_accuracy": 0.99, "margin_threshold": 0.5, "image_limits": {}}
    assert client.get("/healthz").json()["review"] == review
    answers = [client.post("/predict", files={"file": ("x.png", png_bytes(color=c))}).json() for c in (0, 90, 255)]
    for answer in answers:
        ranked = sorted(answer["probabilities"].values())
        assert answer["margin"] == pytest.approx(ranked[-1] - ranked[-2], abs=2e-6)
        assert answer["runner_up"] != answer["label"]
        assert answer["probabilities"][answer["runner_up"]] == ranked[-2]
        assert answer["needs_review"] == (answer["margin"] < 0.5) and answer["image_check"] == "ok"


def garment_png(left: int) -> bytes:
    """A converted 28 × 28 upload: a light square garment on black, 20 pixels wide from column `left`."""
    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, left : left + 20] = 200
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_image_that_fails_a_check_goes_to_review_whatever_its_margin(serving_artifacts, tmp_path):
    """With a margin threshold of 0, only the cut-off check can send a tag to a person: the garment the
    image's left edge cuts reaches 20 of its 108 edge pixels, past a limit of 0.1; the centred one none."""
    review = tmp_path / "review.json"
    review.write_text(json.dumps({"thresholds": {"0.99": 0.0}, "image_limits": {"cut_off": 0.1, "grain": 1.0}}))
    cut, centred = garment_png(left=0), garment_png(left=4)
    with api_client(serving_artifacts, FMNIST_REVIEW_THRESHOLDS=str(review)) as client:
        assert client.get("/healthz").json()["review"]["image_limits"] == {"cut_off": 0.1, "grain": 1.0}
        answers = [client.post(path, files={"file": ("x.png", cut)}).json() for path in ("/predict", "/explain")]
        plain = client.post("/predict", files={"file": ("x.png", centred)}).json()
    for answer in (answers[0], answers[1]["prediction"]):
        assert answer["image_check"] == "cut_off" and answer["needs_review"] is True
    assert plain["image_check"] == "ok" and plain["needs_review"] is False


def test_describe_flags_review_below_the_threshold_or_on_a_failed_check():
    probabilities = np.array([0.6, 0.3] + [0.0125] * 8)
    assert inference.describe(probabilities, ReviewRule(0.29))["needs_review"] is False
    assert inference.describe(probabilities, ReviewRule(0.31))["needs_review"] is True
    assert inference.describe(probabilities, ReviewRule(0.29), image_check="grain")["needs_review"] is True
    assert inference.describe(probabilities, ReviewRule(0.31))["runner_up"] == CLASS_NAMES[1]


@pytest.mark.parametrize(("target", "message"), [("0.95", "choose one of"), (None, "cannot read the review")])
def test_a_target_without_a_threshold_stops_the_server_with_a_clear_message(serving_artifacts, target, message):
    if target:
        environment = {"FMNIST_TARGET_ACCURACY": target}
    else:
        environment = {"FMNIST_REVIEW_THRESHOLDS": str(serving_artifacts / "missing.json")}
    with pytest.raises(RuntimeError, match=message), api_client(serving_artifacts, **environment):
        pass
