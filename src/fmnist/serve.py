"""The prediction, explanation and similar-items API: `python -m fmnist.serve` (see docs/serving.md).

`python -m fmnist.serve` runs it with uvicorn's own options (`uvicorn.run`, like `uvicorn fmnist.serve:app
--workers N --timeout-graceful-shutdown 30`), and any ASGI server serves `app`. Graceful shutdown is the
server's own. `/readyz` tells a load balancer whether to send traffic: it turns 503 at SIGTERM, and with
$FMNIST_DRAIN_SECONDS the app hands the signal on to the server only that many seconds later, so that the
balancer stops sending new requests before the server stops accepting them.

The TFLite model loads once, at startup; the catalogue (`fmnist.catalogue`) too, and again whenever its file
is replaced: a rebuilt catalogue is picked up within a second, without a restart, and a request always
searches one whole catalogue, the old or the new. Nothing here imports TensorFlow. Predictions run on the
LiteRT interpreter directly in the event loop: one call costs well under a millisecond, far less than a
thread hand-off. An explanation takes up to 729 predictions (occlusion), so it runs in a worker thread on an
interpreter of its own.
"""

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import sys
import threading
from pathlib import Path

import anyio
import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image

from fmnist import CLASS_NAMES, __version__, explain
from fmnist.catalogue import Catalogue
from fmnist.images import InputError, decode, image_from_pixels, open_image
from fmnist.inference import (
    CATALOGUE_ENV,
    DEFAULT_CATALOGUE,
    DEFAULT_MODEL,
    DEFAULT_REVIEW,
    DEFAULT_TARGET,
    MODEL_ENV,
    REVIEW_ENV,
    TARGET_ENV,
    describe,
    load_threshold,
)
from fmnist.runtime import TFLiteClassifier

DRAIN_ENV = "FMNIST_DRAIN_SECONDS"  # between SIGTERM (readiness turns 503) and the server's graceful shutdown
CATALOGUE_POLL_SECONDS = 1.0
MAX_LISTED = 100
STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_BATCH = 64
MAX_K = 50
INLINE_PIXELS = 512 * 512  # larger images decode in a worker thread, not in the event loop
HEAVY_DECODES = 1  # such decodes at a time per process: a client of huge images slows itself, not the others
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")


def load_state(model_path, catalogue_path) -> dict:
    """Load the model and the catalogue, or raise `RuntimeError` with a message a person can act on."""
    model_path, catalogue_path = Path(model_path), Path(catalogue_path)
    try:
        classifier = TFLiteClassifier(model_path)
        catalogue = Catalogue.load(catalogue_path)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise RuntimeError(
            f"cannot start the API: {error}. It needs the TFLite model ({MODEL_ENV}={model_path}) and the "
            f"catalogue ({CATALOGUE_ENV}={catalogue_path}); run `make run` to create both, or "
            "`python -m fmnist.catalogue build FOLDER` for a catalogue of your own images."
        ) from None
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    return {
        "classifier": classifier,
        "explainer": TFLiteClassifier(model_path),
        "catalogue": catalogue,
        "catalogue_file": file_signature(catalogue_path),
        "model": model_path.name,
        "sha256": digest,
    }


def file_signature(path: Path):
    """What changes when a file is replaced (`os.replace` gives it a new inode) or rewritten; None if absent."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


async def watch_catalogue(state: dict, path: Path) -> None:
    """Swap in the catalogue file whenever it changes; a file that fails to load leaves the current one."""
    while True:
        await asyncio.sleep(CATALOGUE_POLL_SECONDS)
        signature = file_signature(path)
        if signature is None or signature == state["catalogue_file"]:
            continue
        try:
            catalogue = await anyio.to_thread.run_sync(Catalogue.load, path)
        except (OSError, ValueError, RuntimeError) as error:
            print(f"fmnist.serve: kept the current catalogue, {path} did not load: {error}", file=sys.stderr)
        else:
            state["catalogue"] = catalogue  # one assignment: each request holds the catalogue it started with
            print(f"fmnist.serve: catalogue reloaded from {path}: {len(catalogue)} items", file=sys.stderr)
        state["catalogue_file"] = signature


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    catalogue_path = Path(os.environ.get(CATALOGUE_ENV, DEFAULT_CATALOGUE))
    app.state.model = load_state(os.environ.get(MODEL_ENV, DEFAULT_MODEL), catalogue_path)
    app.state.target = os.environ.get(TARGET_ENV, DEFAULT_TARGET)
    app.state.review_threshold = load_threshold(os.environ.get(REVIEW_ENV, DEFAULT_REVIEW), app.state.target)
    app.state.heavy_decodes = anyio.CapacityLimiter(HEAVY_DECODES)
    app.state.explanations = anyio.CapacityLimiter(1)  # one at a time: they share one interpreter
    watcher = asyncio.create_task(watch_catalogue(app.state.model, catalogue_path))
    app.state.ready = True
    drain_before_shutdown(app, float(os.environ.get(DRAIN_ENV, "0")))
    yield
    app.state.ready = False
    watcher.cancel()


def drain_before_shutdown(app: FastAPI, seconds: float) -> None:
    """At SIGTERM, turn `/readyz` to 503 at once and pass the signal on to the server's own handler (its
    graceful shutdown) `seconds` later. The server installed that handler before starting the app; it is
    chained with the standard `signal` API, nothing of the server's is replaced. Only in the main thread,
    where Python delivers signals (a test client or an embedding may run the app elsewhere)."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(signum, frame):
        app.state.ready = False
        loop.call_soon_threadsafe(loop.call_later, seconds, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


app = FastAPI(
    title="Fashion-MNIST classifier",
    version=__version__,
    description=(
        "Classify a product photo into one of ten clothing categories, see which pixels the answer rests on "
        "(/explain), and find visually similar catalogue items. Send an image file (multipart field `file`, or "
        "the raw bytes with an image content type) "
        'or JSON `{"pixels": [[...28 numbers...], ... 28 rows]}` with values 0-255 (0 = background).'
    ),
    lifespan=lifespan,
    docs_url=None,  # served below from the package's own copy of Swagger UI, not from a CDN
    redoc_url=None,
)
app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.get("/", include_in_schema=False)
async def demo_page():
    """The live demo: upload or drop a photo, see the top classes, the explanation and similar items."""
    return FileResponse(STATIC / "demo" / "index.html")


@app.get("/docs", include_in_schema=False)
async def interactive_docs():
    """The interactive OpenAPI page, with Swagger UI's files served by this app: it works offline."""
    return get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} - interactive docs",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
    )


@app.exception_handler(InputError)
async def input_error_handler(request: Request, error: InputError):
    return JSONResponse(status_code=error.status, content={"detail": str(error)})


async def read_body(request: Request) -> bytes:
    """Read the request body, refusing more than `MAX_UPLOAD_BYTES` before it is all in memory."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise InputError(f"the upload is {int(declared):,} bytes; the limit is {MAX_UPLOAD_BYTES:,} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"the upload is over the limit of {MAX_UPLOAD_BYTES:,} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def image_from_upload(request: Request, payload: bytes) -> np.ndarray:
    """Decode an uploaded file: small images in the event loop, large ones in a worker thread, few at a time.

    Decoding a 6000 × 6000 PNG takes a fifth of a second: in the event loop it would stall every other request.
    """
    image = open_image(payload)  # reads the header only
    if image.width * image.height <= INLINE_PIXELS:
        return decode(image)
    return await anyio.to_thread.run_sync(decode, image, limiter=request.app.state.heavy_decodes)


async def images_from_request(request: Request, many: bool) -> np.ndarray:
    """Return a float32 batch (n, 28, 28, 1) from any accepted request body; raise `InputError`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request)
    if content_type == "application/json":
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"the body is not valid JSON: {error}") from None
        except RecursionError:
            raise InputError("the JSON is nested too deeply") from None
        key = "images" if many else "pixels"
        if not isinstance(payload, dict) or key not in payload:
            raise InputError(f'the JSON body must be an object with the key "{key}"', 422)
        arrays = payload[key] if many else [payload[key]]
        if many and not isinstance(arrays, list):
            raise InputError('"images" must be a list of 28×28 pixel arrays', 422)
        images = [image_from_pixels(pixels) for pixels in arrays[: MAX_BATCH + 1]]
    elif content_type == "multipart/form-data":
        request._body = body  # Starlette parses the form from the body already read within the limit
        async with request.form(max_files=MAX_BATCH + 1) as form:
            uploads = form.getlist("files" if many else "file")
            if not uploads:
                raise InputError(f'the form has no "{"files" if many else "file"}" field with an image', 422)
            files = [await upload.read() for upload in uploads if hasattr(upload, "read")]
        images = [await image_from_upload(request, payload) for payload in files]
    elif content_type in IMAGE_TYPES or content_type == "application/octet-stream":
        if many:
            raise InputError("send a batch as multipart `files` fields or as JSON images", 415)
        images = [await image_from_upload(request, body)]
    else:
        raise InputError(
            f"unsupported content type {content_type or '(none)'}: send multipart/form-data, "
            f"application/json or one of {', '.join(IMAGE_TYPES)}",
            415,
        )
    if not images:
        raise InputError("the request holds no image", 422)
    if not many and len(images) > 1:
        raise InputError("this endpoint takes one image; send several to /predict/batch", 422)
    if len(images) > MAX_BATCH:
        raise InputError(f"a batch holds at most {MAX_BATCH} images", 413)
    return np.stack(images)


IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {
                "schema": {"type": "object", "properties": {"pixels": {"type": "array", "items": {"type": "array"}}}},
                "example": {"pixels": [[0] * 28] * 28},
            },
        },
    }
}
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            },
            "application/json": {"example": {"images": [[[0] * 28] * 28, [[255] * 28] * 28]}},
        },
    }
}


@app.get("/healthz")
async def healthz(request: Request):
    """Whether the model is loaded, which model it is, and the class names it predicts."""
    state = request.app.state.model
    return {
        "status": "ok",
        "model": state["model"],
        "model_sha256": state["sha256"],
        "api_version": __version__,
        "process": os.getpid(),  # which worker answered
        "classes": list(CLASS_NAMES),
        "catalogue_items": len(state["catalogue"]),
        "review": {
            "target_accuracy": float(request.app.state.target),
            "margin_threshold": request.app.state.review_threshold,
        },
        "limits": {"max_upload_bytes": MAX_UPLOAD_BYTES, "max_batch": MAX_BATCH, "max_k": MAX_K},
    }


@app.get("/readyz")
async def readyz(request: Request):
    """Whether to send this replica traffic: 200 once the model is loaded, 503 from SIGTERM on."""
    if request.app.state.ready:
        return {"status": "ready"}
    return JSONResponse({"status": "shutting down"}, status_code=503, headers={"retry-after": "1"})


@app.post("/predict", openapi_extra=IMAGE_BODY)
async def predict(request: Request):
    """Classify one image: the class, its calibrated confidence, the runner-up, all ten probabilities, and
    `needs_review`: whether the tag falls short of the target accuracy ($FMNIST_TARGET_ACCURACY) on its own."""
    images = await images_from_request(request, many=False)
    _, probabilities = request.app.state.model["classifier"](images)
    return describe(probabilities[0], request.app.state.review_threshold)


@app.post("/predict/batch", openapi_extra=BATCH_BODY)
async def predict_batch(request: Request):
    """Classify up to `MAX_BATCH` images in one call (multipart `files` fields or JSON `images`)."""
    images = await images_from_request(request, many=True)
    _, probabilities = request.app.state.model["classifier"](images)
    return {"predictions": [describe(row, request.app.state.review_threshold) for row in probabilities]}


@app.post("/similar", openapi_extra=IMAGE_BODY)
async def similar_items(request: Request, k: int = Query(5, description=f"how many items, 1 to {MAX_K}")):
    """The k catalogue items most similar to the image (cosine similarity of the model's embeddings), each with
    its id, title, class and thumbnail URL."""
    state = request.app.state.model
    catalogue = state["catalogue"]  # this request's catalogue, even if a new one is swapped in meanwhile
    limit = min(MAX_K, len(catalogue))
    if not 1 <= k <= limit:
        raise HTTPException(status_code=422, detail=f"k must be between 1 and {limit}, got {k}")
    images = await images_from_request(request, many=False)
    embeddings, probabilities = state["classifier"](images)
    rows, similarities = catalogue.search(embeddings, k)
    items = [
        {**listed(catalogue, row), "similarity": round(float(s), 6)}
        for row, s in zip(rows[0], similarities[0], strict=True)
    ]
    return {"query": describe(probabilities[0], request.app.state.review_threshold), "items": items}


def listed(catalogue: Catalogue, row: int) -> dict:
    item = catalogue.item(row)
    return {**item, "thumbnail": f"/catalogue/items/{item['id']}/thumbnail.png"}


@app.get("/catalogue")
async def catalogue_summary(request: Request):
    """The catalogue's size, search engine and embedding size."""
    catalogue = request.app.state.model["catalogue"]
    return {"items": len(catalogue), "engine": catalogue.engine, "embedding_size": int(catalogue.vectors.shape[1])}


@app.get("/catalogue/items")
async def catalogue_items(
    request: Request,
    offset: int = Query(0, ge=0, description="the first item's position"),
    limit: int = Query(20, ge=1, le=MAX_LISTED, description=f"how many items, 1 to {MAX_LISTED}"),
):
    """A page of catalogue items in catalogue order: id, title, class and thumbnail URL."""
    catalogue = request.app.state.model["catalogue"]
    rows = range(min(offset, len(catalogue)), min(offset + limit, len(catalogue)))
    return {"total": len(catalogue), "offset": offset, "items": [listed(catalogue, row) for row in rows]}


@app.get(
    "/catalogue/items/{item_id}/thumbnail.png",
    responses={200: {"content": {"image/png": {}}, "description": "the 28 × 28 thumbnail"}, 404: {}},
)
async def thumbnail(request: Request, item_id: str):
    """The item's 28 × 28 thumbnail (what the model sees: the garment light on black), as PNG."""
    try:
        png = request.app.state.model["catalogue"].thumbnail_png(item_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no catalogue item has the id {item_id!r}") from None
    return Response(png, media_type="image/png", headers={"cache-control": "max-age=60"})


def explain_image(classifier: TFLiteClassifier, image: np.ndarray):
    """Probabilities and the occlusion map of one image."""
    predict = lambda batch: classifier(batch)[1]  # noqa: E731
    probabilities = predict(image[np.newaxis])[0]
    return probabilities, explain.occlusion(predict, image[np.newaxis], [probabilities.argmax()])[0]


def overlay_png(image: np.ndarray, heat: np.ndarray, scale: int = 8) -> bytes:
    """The image in gray with the map in red to yellow on top, `scale` times larger, as PNG bytes."""
    gray = np.repeat(image[..., :1] * 255, 3, axis=-1)
    colour = np.stack([np.full_like(heat, 255), 255 * heat, np.zeros_like(heat)], axis=-1)
    alpha = 0.7 * heat[..., np.newaxis]
    pixels = ((1 - alpha) * gray + alpha * colour).round().astype(np.uint8)
    picture = Image.fromarray(pixels).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@app.post(
    "/explain",
    openapi_extra=IMAGE_BODY,
    responses={200: {"content": {"image/png": {}}, "description": "JSON, or the overlay as PNG"}},
)
async def explain_prediction(
    request: Request,
    output: str = Query("json", alias="format", pattern="^(json|png)$", description="json, or png for an overlay"),
):
    """Which pixels the prediction rests on: occlusion, the drop in the predicted class's probability when
    each 2 × 2 patch is blanked, as a 28 × 28 map in [0, 1]. Ask for `image/png` (`Accept` header or
    `?format=png`) to get the map over the image as a picture."""
    images = await images_from_request(request, many=False)
    state = request.app.state
    probabilities, heat = await anyio.to_thread.run_sync(
        explain_image, state.model["explainer"], images[0], limiter=state.explanations
    )
    if output == "png" or "image/png" in request.headers.get("accept", ""):
        return Response(overlay_png(images[0], heat), media_type="image/png")
    return {
        "prediction": describe(probabilities, request.app.state.review_threshold),
        "method": "occlusion",
        "map": np.round(heat, 3).tolist(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the API with uvicorn (docs/serving.md).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (one per core is a good start)")
    parser.add_argument("--backlog", type=int, default=2048)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=float(os.environ.get(DRAIN_ENV, "0")),
        help=f"seconds between SIGTERM (/readyz turns 503) and the graceful shutdown (${DRAIN_ENV})",
    )
    arguments = parser.parse_args(argv)
    os.environ[DRAIN_ENV] = str(arguments.drain_seconds)  # the worker processes read it
    uvicorn.run(
        "fmnist.serve:app",
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        backlog=arguments.backlog,
        log_level=arguments.log_level,
        access_log=not arguments.no_access_log,
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
