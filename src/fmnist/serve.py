"""The prediction, explanation and similar-items API: `python -m fmnist.serve` (see docs/serving.md).

`python -m fmnist.serve` runs it with uvicorn's own options (`uvicorn.run`, like `uvicorn fmnist.serve:app
--workers N --timeout-graceful-shutdown 30`), and any ASGI server serves `app`. Graceful shutdown is the
server's own. `/readyz` tells a load balancer whether to send traffic: it turns 503 at SIGTERM, and with
$FMNIST_DRAIN_SECONDS the app hands the signal on to the server only that many seconds later, so that the
balancer stops sending new requests before the server stops accepting them.

Each image endpoint takes a multipart upload (`UploadFile`), the raw image bytes with an image content type,
or JSON pixels (a pydantic body); the `one_image` and `image_batch` dependencies turn any of them into the
model's input. A body over `MAX_UPLOAD_BYTES` is refused while it arrives, before it is
buffered or parsed (`UploadLimit`). Every JSON answer has a response model, so /docs shows it and the fuzzer checks it.

The `Service` (`fmnist.inference.Predictor`, the catalogue, the review threshold) loads once, at startup; the
catalogue again whenever its file is replaced: a rebuilt catalogue is picked up within a second, without a
restart, and a request always searches one whole catalogue, the old or the new. Nothing here imports
TensorFlow. Predictions run on the LiteRT interpreter directly in the event loop: one call costs well under a
millisecond, far less than a thread hand-off. An explanation takes up to 729 predictions (occlusion), so it
runs in a worker thread on an interpreter of its own.
"""

import argparse
import asyncio
import contextlib
import hashlib
import io
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Literal

import anyio
import numpy as np
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.datastructures import Headers
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from fmnist import CLASS_NAMES, __version__, explain
from fmnist.catalogue import Catalogue
from fmnist.images import SIZE, InputError, decode, open_image
from fmnist.inference import (
    CATALOGUE_ENV,
    DEFAULT_CATALOGUE,
    DEFAULT_MODEL,
    DEFAULT_REVIEW,
    DEFAULT_TARGET,
    MODEL_ENV,
    REVIEW_ENV,
    TARGET_ENV,
    Predictor,
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

# The request bodies: JSON pixels, 0-255 with 0 the background, validated by pydantic.
Pixel = Annotated[float, Field(strict=True, ge=0, le=255, allow_inf_nan=False)]
Grid = Annotated[
    list[Annotated[list[Pixel], Field(min_length=SIZE, max_length=SIZE)]],
    Field(min_length=SIZE, max_length=SIZE, description="28 rows of 28 pixel values from 0 to 255"),
]


class PixelsBody(BaseModel):
    pixels: Grid


class ImagesBody(BaseModel):
    images: Annotated[list[Grid], Field(min_length=1, max_length=MAX_BATCH)]


# The answers.
class Prediction(BaseModel):
    class_index: int
    label: str
    confidence: float = Field(description="the calibrated probability of `label`")
    runner_up: str
    margin: float = Field(description="the confidence minus the runner-up's probability")
    needs_review: bool = Field(description="the margin is below the review threshold: a person should check")
    probabilities: dict[str, float]


class Predictions(BaseModel):
    predictions: list[Prediction]


class Item(BaseModel):
    id: str
    title: str
    label: str
    thumbnail: str = Field(description="the URL of its 28 × 28 PNG")


class SimilarItem(Item):
    similarity: float = Field(description="cosine similarity of the model's embeddings")


class SimilarItems(BaseModel):
    query: Prediction
    items: list[SimilarItem]


class Explanation(BaseModel):
    prediction: Prediction
    method: Literal["occlusion"]
    map: list[list[float]] = Field(description="28 × 28, in [0, 1]: the drop in the class's probability")


class Review(BaseModel):
    target_accuracy: float
    margin_threshold: float


class Limits(BaseModel):
    max_upload_bytes: int
    max_batch: int
    max_k: int


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    model_sha256: str
    api_version: str
    process: int = Field(description="which worker process answered")
    classes: list[str]
    catalogue_items: int
    review: Review
    limits: Limits


class Readiness(BaseModel):
    status: Literal["ready", "shutting down"]


class CatalogueSummary(BaseModel):
    items: int
    engine: str
    embedding_size: int


class CataloguePage(BaseModel):
    total: int
    offset: int
    items: list[Item]


class Problem(BaseModel):
    detail: str | list[dict] = Field(description="what was wrong: a sentence, or pydantic's list of errors")


PROBLEMS = {status: {"model": Problem} for status in (400, 413, 415, 422)}


class Service:
    """What one process serves with: the predictor, a second interpreter for explanations, the catalogue (swapped
    whole when its file changes), the review threshold, and whether to take new traffic."""

    def __init__(self, model_path: Path, catalogue_path: Path, review_path: Path, target: str):
        try:
            self.predictor = Predictor(model_path, load_threshold(review_path, target))
            self.explainer = TFLiteClassifier(model_path)
            self.catalogue = Catalogue.load(catalogue_path)
        except (OSError, ValueError, KeyError) as error:
            raise RuntimeError(
                f"cannot start the API: {error}. It needs the TFLite model ({MODEL_ENV}={model_path}) and the "
                f"catalogue ({CATALOGUE_ENV}={catalogue_path}); run `make run` to create both, or "
                "`python -m fmnist.catalogue build FOLDER` for a catalogue of your own images."
            ) from None
        self.catalogue_path, self.catalogue_file = catalogue_path, file_signature(catalogue_path)
        self.model, self.sha256 = model_path.name, hashlib.sha256(model_path.read_bytes()).hexdigest()
        self.target = target
        self.heavy_decodes = anyio.CapacityLimiter(HEAVY_DECODES)
        self.explanations = anyio.CapacityLimiter(1)  # one at a time: they share one interpreter
        self.ready = True

    @classmethod
    def from_environment(cls) -> "Service":
        return cls(
            Path(os.environ.get(MODEL_ENV, DEFAULT_MODEL)),
            Path(os.environ.get(CATALOGUE_ENV, DEFAULT_CATALOGUE)),
            Path(os.environ.get(REVIEW_ENV, DEFAULT_REVIEW)),
            os.environ.get(TARGET_ENV, DEFAULT_TARGET),
        )

    async def watch_catalogue(self) -> None:
        """Swap in the catalogue file whenever it changes; a file that fails to load leaves the current one."""
        while True:
            await asyncio.sleep(CATALOGUE_POLL_SECONDS)
            signature = file_signature(self.catalogue_path)
            if signature is None or signature == self.catalogue_file:
                continue
            try:
                catalogue = await anyio.to_thread.run_sync(Catalogue.load, self.catalogue_path)
            except (OSError, ValueError, RuntimeError) as error:
                print(f"fmnist.serve: kept the current catalogue, it did not load: {error}", file=sys.stderr)
            else:
                self.catalogue = catalogue  # one assignment: each request holds the catalogue it started with
                print(f"fmnist.serve: catalogue reloaded: {len(catalogue)} items", file=sys.stderr)
            self.catalogue_file = signature


def file_signature(path: Path):
    """What changes when a file is replaced (`os.replace` gives it a new inode) or rewritten; None if absent."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class UploadLimit:
    """ASGI middleware: refuse a request body over `limit` bytes before it is buffered or parsed, at once where
    Content-Length declares more, else at the chunk that crosses the limit. The refusal is the API's JSON error
    (FastAPI's own `max_body_size` answers a declared oversize in plain text)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            message = f"the upload is {int(declared):,} bytes; the limit is {self.limit:,} bytes"
            return await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # FastAPI passes an HTTPException from here on to its handler
                raise HTTPException(413, f"the upload is over the limit of {self.limit:,} bytes")
            return message

        await self.app(scope, counted, send)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.service = service = Service.from_environment()
    watcher = asyncio.create_task(service.watch_catalogue())
    drain_before_shutdown(service, float(os.environ.get(DRAIN_ENV, "0")))
    yield
    service.ready = False
    watcher.cancel()


def drain_before_shutdown(service: Service, seconds: float) -> None:
    """At SIGTERM, turn `/readyz` to 503 at once and pass the signal on to the server's own handler (its
    graceful shutdown) `seconds` later. The server installed that handler before starting the app; it is
    chained with the standard `signal` API, nothing of the server's is replaced. Only in the main thread,
    where Python delivers signals (a test client or an embedding may run the app elsewhere)."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(signum, frame):
        service.ready = False
        loop.call_soon_threadsafe(loop.call_later, seconds, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


async def get_service(request: Request) -> Service:
    """The dependency that hands each endpoint this process's `Service` (async: no thread hop)."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


async def decoded(service: Service, payload: bytes) -> np.ndarray:
    """Decode an uploaded file: small images in the event loop, large ones in a worker thread, few at a time.

    Decoding a 6000 × 6000 PNG takes a fifth of a second: in the event loop it would stall every other request.
    """
    image = open_image(payload)  # reads the header only
    if image.width * image.height <= INLINE_PIXELS:
        return decode(image)
    return await anyio.to_thread.run_sync(decode, image, limiter=service.heavy_decodes)


def media_type(request: Request) -> str:
    """The request's content type without its parameters, lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The body validated by `model`; FastAPI's own 422, each error with its place, when it does not fit."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**problem, "loc": ("body", *problem["loc"])} for problem in problems]) from None


def from_pixels(grid: list[list[float]]) -> np.ndarray:
    """The model's input (28, 28, 1) in [0, 1] from validated JSON pixels."""
    return np.asarray(grid, np.float32)[..., np.newaxis] / 255


def unsupported(kind: str, accepted: str) -> InputError:
    """The 415 for a content type the endpoint does not take, naming those it does."""
    return InputError(f"unsupported content type {kind or '(none)'}: send {accepted}", 415)


async def one_image(
    request: Request,
    service: ServiceDep,
    file: Annotated[UploadFile | None, File(description="the photo: PNG, JPEG, WebP, GIF, BMP or TIFF")] = None,
) -> np.ndarray:
    """The image of a request, as a batch of one: a multipart `file`, raw image bytes, or JSON `pixels`."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        if file is None:
            raise InputError('the form has no "file" field with an image', 422)
        if len((await request.form()).getlist("file")) > 1:  # the form FastAPI parsed, not parsed again
            raise InputError("this endpoint takes one image; send several to /predict/batch", 422)
        picture = await decoded(service, await file.read())
    elif kind == "application/json":
        picture = from_pixels((await json_body(request, PixelsBody)).pixels)
    elif kind in IMAGE_TYPES or kind == "application/octet-stream":
        picture = await decoded(service, await request.body())
    else:
        raise unsupported(kind, f"multipart/form-data, application/json or one of {', '.join(IMAGE_TYPES)}")
    return picture[np.newaxis]


async def image_batch(
    request: Request,
    service: ServiceDep,
    files: Annotated[list[UploadFile] | None, File(description=f"up to {MAX_BATCH} photos")] = None,
) -> np.ndarray:
    """The images of a batch request: multipart `files` fields, or JSON `images`."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        if not files:
            raise InputError('the form has no "files" field with an image', 422)
        if len(files) > MAX_BATCH:
            raise InputError(f"a batch holds at most {MAX_BATCH} images", 413)
        pictures = [await decoded(service, await upload.read()) for upload in files]
    elif kind == "application/json":
        pictures = [from_pixels(grid) for grid in (await json_body(request, ImagesBody)).images]
    else:
        raise unsupported(kind, "a batch as multipart `files` fields or as JSON images")
    return np.stack(pictures)


def other_bodies(model: type[BaseModel], raw: bool) -> dict:
    """The request bodies that FastAPI cannot derive from the dependency's `File` parameter, for OpenAPI."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    if raw:
        content |= {kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES}
    return {"requestBody": {"content": content}}


OneImage = Annotated[np.ndarray, Depends(one_image)]
predictions = APIRouter(tags=["predictions"], responses=PROBLEMS)
ONE_IMAGE = other_bodies(PixelsBody, raw=True)


@predictions.post("/predict", response_model=Prediction, openapi_extra=ONE_IMAGE)
async def predict(service: ServiceDep, images: OneImage):
    """Classify one image: the class, its calibrated confidence, the runner-up, all ten probabilities, and
    `needs_review`: whether the tag falls short of the target accuracy ($FMNIST_TARGET_ACCURACY) on its own."""
    return service.predictor(images)[1][0]


@predictions.post("/predict/batch", response_model=Predictions, openapi_extra=other_bodies(ImagesBody, raw=False))
async def predict_batch(service: ServiceDep, images: Annotated[np.ndarray, Depends(image_batch)]):
    """Classify up to `MAX_BATCH` images in one call (multipart `files` fields or JSON `images`)."""
    return {"predictions": service.predictor(images)[1]}


@predictions.post("/similar", response_model=SimilarItems, openapi_extra=ONE_IMAGE)
async def similar_items(
    service: ServiceDep, images: OneImage, k: int = Query(5, description=f"how many items, 1 to {MAX_K}")
):
    """The k catalogue items most similar to the image (cosine similarity of the model's embeddings), each with
    its id, title, class and thumbnail URL."""
    catalogue = service.catalogue  # this request's catalogue, even if a new one is swapped in meanwhile
    limit = min(MAX_K, len(catalogue))
    if not 1 <= k <= limit:
        raise HTTPException(status_code=422, detail=f"k must be between 1 and {limit}, got {k}")
    embeddings, answers = service.predictor(images)
    rows, similarities = catalogue.search(embeddings, k)
    items = [
        {**listed(catalogue, row), "similarity": round(float(s), 6)}
        for row, s in zip(rows[0], similarities[0], strict=True)
    ]
    return {"query": answers[0], "items": items}


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


@predictions.post(
    "/explain",
    response_model=Explanation,
    openapi_extra=ONE_IMAGE,
    responses={200: {"content": {"image/png": {}}, "description": "JSON, or the overlay as PNG"}},
)
async def explain_prediction(
    request: Request,
    service: ServiceDep,
    images: OneImage,
    output: Literal["json", "png"] = Query("json", alias="format", description="json, or png for an overlay"),
):
    """Which pixels the prediction rests on: occlusion, the drop in the predicted class's probability when
    each 2 × 2 patch is blanked, as a 28 × 28 map in [0, 1]. Ask for `image/png` (`Accept` header or
    `?format=png`) to get the map over the image as a picture."""
    probabilities, heat = await anyio.to_thread.run_sync(
        explain_image, service.explainer, images[0], limiter=service.explanations
    )
    if output == "png" or "image/png" in request.headers.get("accept", ""):
        return Response(overlay_png(images[0], heat), media_type="image/png")
    answer = describe(probabilities, service.predictor.threshold)
    return {"prediction": answer, "method": "occlusion", "map": np.round(heat, 3).tolist()}


catalogue_routes = APIRouter(prefix="/catalogue", tags=["catalogue"])


def listed(catalogue: Catalogue, row: int) -> dict:
    """A catalogue item as the API lists it: id, title, class and thumbnail URL."""
    item = catalogue.item(row)
    return {**item, "thumbnail": f"/catalogue/items/{item['id']}/thumbnail.png"}


@catalogue_routes.get("", response_model=CatalogueSummary)
async def catalogue_summary(service: ServiceDep):
    """The catalogue's size, search engine and embedding size."""
    catalogue = service.catalogue
    return {"items": len(catalogue), "engine": catalogue.engine, "embedding_size": int(catalogue.vectors.shape[1])}


@catalogue_routes.get("/items", response_model=CataloguePage)
async def catalogue_items(
    service: ServiceDep,
    offset: int = Query(0, ge=0, description="the first item's position"),
    limit: int = Query(20, ge=1, le=MAX_LISTED, description=f"how many items, 1 to {MAX_LISTED}"),
):
    """A page of catalogue items in catalogue order: id, title, class and thumbnail URL."""
    catalogue = service.catalogue
    rows = range(min(offset, len(catalogue)), min(offset + limit, len(catalogue)))
    return {"total": len(catalogue), "offset": offset, "items": [listed(catalogue, row) for row in rows]}


@catalogue_routes.get(
    "/items/{item_id}/thumbnail.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the 28 × 28 thumbnail"}, 404: {"model": Problem}},
)
async def thumbnail(service: ServiceDep, item_id: str):
    """The item's 28 × 28 thumbnail (what the model sees: the garment light on black), as PNG."""
    try:
        png = service.catalogue.thumbnail_png(item_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no catalogue item has the id {item_id!r}") from None
    return Response(png, media_type="image/png", headers={"cache-control": "max-age=60"})


health = APIRouter(tags=["health"])


@health.get("/healthz", response_model=Health)
async def healthz(service: ServiceDep):
    """Whether the model is loaded, which model it is, and the class names it predicts."""
    return {
        "status": "ok",
        "model": service.model,
        "model_sha256": service.sha256,
        "api_version": __version__,
        "process": os.getpid(),
        "classes": list(CLASS_NAMES),
        "catalogue_items": len(service.catalogue),
        "review": {"target_accuracy": float(service.target), "margin_threshold": service.predictor.threshold},
        "limits": {"max_upload_bytes": MAX_UPLOAD_BYTES, "max_batch": MAX_BATCH, "max_k": MAX_K},
    }


@health.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(service: ServiceDep):
    """Whether to send this replica traffic: 200 once the model is loaded, 503 from SIGTERM on."""
    if service.ready:
        return {"status": "ready"}
    return JSONResponse({"status": "shutting down"}, status_code=503, headers={"retry-after": "1"})


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
for router in (predictions, catalogue_routes, health):
    app.include_router(router)
app.add_middleware(UploadLimit, limit=MAX_UPLOAD_BYTES)
app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.get("/", response_class=HTMLResponse)
async def demo_page():
    """The live demo: upload or drop a photo, see the top classes, the explanation and similar items."""
    return FileResponse(STATIC / "demo" / "index.html", media_type="text/html")


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
