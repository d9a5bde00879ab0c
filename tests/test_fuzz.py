"""Fuzzing the API: schemathesis from its own OpenAPI schema, and hypothesis-made image bytes and JSON bodies.

The property, for every request: no 5xx; every error is JSON with a "detail"; and afterwards (the module's last
test) the server still answers /healthz and its log holds no traceback. Schemathesis's requests must also get a
status code, a media type and a body that the schema declares (the endpoints' response models). The runs are
seeded (`derandomize`), with FMNIST_FUZZ_EXAMPLES examples per test: 100 in `make test`, more in `make fuzz`.
With FMNIST_FUZZ_REPORT set, the count of cases and failures goes to that JSON file (`benchmarks/serving.py`
reads it).
"""

import io
import json
import os
from pathlib import Path

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from PIL import Image
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .helpers import api_server

EXAMPLES = int(os.environ.get("FMNIST_FUZZ_EXAMPLES", "100"))
# A server process, and hundreds of requests: `make fuzz` sends ten times as many, so the time limit grows with them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600 + 6 * EXAMPLES)]
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
IMAGE_ENDPOINTS = ["/predict", "/predict/batch", "/similar", "/explain"]


@pytest.fixture(scope="module")
def tally():
    """The module's cases and failures; written to FMNIST_FUZZ_REPORT, where set, once the module is done."""
    counts = {"cases": 0, "failures": []}
    yield counts
    if os.environ.get("FMNIST_FUZZ_REPORT"):
        report = {"cases": counts["cases"], "failures": len(counts["failures"]), "examples": counts["failures"][:10]}
        Path(os.environ["FMNIST_FUZZ_REPORT"]).write_text(json.dumps(report, indent=2) + "\n")


@pytest.fixture(scope="module")
def server_log(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "server.log"


@pytest.fixture(scope="module")
def server(serving_artifacts, server_log, tally):
    """The URL of one server process for the whole module."""
    with api_server(serving_artifacts, log=server_log) as (_, url):
        yield url


def check(response: requests.Response, what: str, tally: dict) -> None:
    """Count one case and fail it on a 5xx or an error that is not JSON {"detail": ...}."""
    tally["cases"] += 1
    problem = None
    if response.status_code >= 500:
        problem = f"{what}: HTTP {response.status_code}"
    elif response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and "detail" in body):
            problem = f"{what}: HTTP {response.status_code} without a JSON detail: {response.text[:200]!r}"
    if problem:
        tally["failures"].append(problem)
        pytest.fail(problem)


def test_requests_generated_from_the_openapi_schema_get_no_server_error(server, tally):
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    catalogue = {"/catalogue", "/catalogue/items", "/catalogue/items/{item_id}/thumbnail.png"}
    assert {operation.path for operation in operations} >= {"/healthz", *catalogue, *IMAGE_ENDPOINTS}
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case):
            what = f"{case.method} {case.path} {case.query or ''}"
            response = case.call(base_url=server, timeout=30)
            check(response, what, tally)
            try:
                case.validate_response(response, checks=CONFORMANCE)
            except Exception as failure:  # a group of schemathesis check failures
                tally["failures"].append(f"{what}: {failure}"[:300])
                raise

        fuzz()


huge_integers = st.integers(min_value=2 * 10**308) | st.integers(max_value=-2 * 10**308)  # beyond float64
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | huge_integers | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=60,
)
pixel_values = st.sampled_from([st.integers(-5, 260), huge_integers, st.floats(), st.text(max_size=3), st.none()])
# 28 × 28 grids of one kind of value (the shape the API checks first), built from a few values: 784 values of
# their own would exceed hypothesis's budget per example for large numbers. And ragged grids of mixed values.
pixel_grids = pixel_values.flatmap(lambda values: st.lists(values, min_size=1, max_size=4)).map(
    lambda values: [[values[(28 * row + column) % len(values)] for column in range(28)] for row in range(28)]
)
pixel_grids |= st.lists(st.lists(st.one_of(*pixel_values.elements), min_size=27, max_size=29), min_size=27, max_size=29)
json_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"pixels": pixel_grids}),
    st.fixed_dictionaries({"pixels": json_values}),
    st.fixed_dictionaries({"images": st.lists(pixel_grids, max_size=3) | json_values}),
)


@pytest.mark.parametrize("path", IMAGE_ENDPOINTS)
@FUZZ
@given(body=json_bodies)
def test_any_json_body_gets_an_answer_or_a_clear_error(server, tally, path, body):
    text = json.dumps(body)  # NaN and Infinity included, as Python's json writes them
    response = requests.post(f"{server}{path}", data=text.encode(), headers={"content-type": "application/json"})
    check(response, f"POST {path} JSON {text[:100]}", tally)


@pytest.mark.parametrize("path", ["/predict", "/explain"])
@FUZZ
@given(depth=st.integers(1, 200_000), wrapper=st.sampled_from(["[]", "{}"]))
def test_deeply_nested_json_gets_a_clear_error(server, tally, path, depth, wrapper):
    opening, closing = (wrapper[0], wrapper[1]) if wrapper == "[]" else ('{"a":', "}")
    text = '{"pixels": ' + opening * depth + "0" + closing * depth + "}"
    response = requests.post(f"{server}{path}", data=text.encode(), headers={"content-type": "application/json"})
    check(response, f"POST {path} JSON nested {depth} deep", tally)


@st.composite
def image_files(draw):
    """Real images of random size, mode and format, or such a file cut short or with bytes flipped."""
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16", "I", "F", "LA", "CMYK"]))
    size = (draw(st.integers(1, 300)), draw(st.integers(1, 300)))
    image_format = draw(st.sampled_from(["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]))
    try:
        buffer = io.BytesIO()
        Image.new(mode, size, draw(st.integers(0, 255))).save(buffer, format=image_format)
        payload = buffer.getvalue()
    except (OSError, ValueError, KeyError):  # a mode this format cannot store
        payload = draw(st.binary(max_size=64))
    cut = draw(st.integers(0, len(payload)))
    damage = draw(st.sampled_from(["none", "truncate", "flip"]))
    if damage == "truncate":
        return payload[:cut]
    if damage == "flip" and payload:
        return payload[:cut] + bytes([payload[cut % len(payload)] ^ 0xFF]) + payload[cut + 1 :]
    return payload


@pytest.mark.parametrize("path", IMAGE_ENDPOINTS)
@FUZZ
@given(payload=image_files() | st.binary(max_size=4096), as_form=st.booleans())
def test_any_uploaded_bytes_get_an_answer_or_a_clear_error(server, tally, path, payload, as_form):
    field = "files" if path == "/predict/batch" else "file"
    if as_form:
        response = requests.post(f"{server}{path}", files={field: ("upload", payload)})
    else:
        response = requests.post(f"{server}{path}", data=payload, headers={"content-type": "image/png"})
    check(response, f"POST {path} {len(payload)} bytes {'multipart' if as_form else 'raw'}", tally)


@FUZZ
@given(
    k=st.text(max_size=30) | st.integers().map(str),
    content_type=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
)
def test_odd_query_values_and_content_types_get_clear_errors(server, tally, k, content_type):
    headers = {"content-type": content_type}  # any printable ASCII
    response = requests.post(f"{server}/similar", params={"k": k}, data=b"\x89PNG", headers=headers)
    check(response, f"POST /similar?k={k!r} content-type {content_type!r}", tally)


def test_afterwards_the_server_still_answers_and_its_log_holds_no_traceback(server, server_log, tally):
    """The module's last test (pytest keeps the file's order): the server that took every case above."""
    try:
        healthy = requests.get(f"{server}/healthz", timeout=5).json()["status"] == "ok"
    except (requests.RequestException, ValueError, KeyError):
        healthy = False
    output = server_log.read_text()
    if not healthy:
        tally["failures"].append("the server did not answer /healthz after the fuzzing")
    if "Traceback" in output:
        tally["failures"].append("a traceback in the server log")
    assert healthy, "the server did not answer /healthz after the fuzzing"
    assert "Traceback" not in output, output[-3000:]
