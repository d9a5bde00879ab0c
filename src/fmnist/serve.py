"""The prediction and similar-items API: `uvicorn fmnist.serve:app` (see the README for settings).

The TFLite model and the catalogue index load once, at startup. Requests run on the LiteRT interpreter
directly in the event loop: one call costs well under a millisecond, far less than a thread hand-off.
"""

import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from fmnist import CLASS_NAMES, __version__
from fmnist.export import TFLiteClassifier
from fmnist.images import InputError, image_from_bytes, image_from_pixels
from fmnist.similar import EmbeddingIndex

MODEL_ENV, INDEX_ENV = "FMNIST_MODEL", "FMNIST_INDEX"
DEFAULT_MODEL, DEFAULT_INDEX = "models/fashion_cnn.tflite", "models/catalogue_index.npz"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_BATCH = 64
MAX_K = 50
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")


def load_state(model_path, index_path) -> dict:
    """Load the model and the index, or raise `RuntimeError` with a message a person can act on."""
    model_path, index_path = Path(model_path), Path(index_path)
    try:
        classifier = TFLiteClassifier(model_path)
        index = EmbeddingIndex.load(index_path)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise RuntimeError(
            f"cannot start the API: {error}. It needs the TFLite model ({MODEL_ENV}={model_path}) and the "
            f"catalogue index ({INDEX_ENV}={index_path}); run `make run` (or `make export`) to create them."
        ) from None
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    return {"classifier": classifier, "index": index, "model": model_path.name, "sha256": digest}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.model = load_state(os.environ.get(MODEL_ENV, DEFAULT_MODEL), os.environ.get(INDEX_ENV, DEFAULT_INDEX))
    yield


app = FastAPI(
    title="Fashion-MNIST classifier",
    version=__version__,
    description=(
        "Classify a product photo into one of ten clothing categories and find visually similar catalogue "
        "items. Send an image file (multipart field `file`, or the raw bytes with an image content type) "
        'or JSON `{"pixels": [[...28 numbers...], ... 28 rows]}` with values 0-255 (0 = background).'
    ),
    lifespan=lifespan,
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


async def images_from_request(request: Request, many: bool) -> np.ndarray:
    """Return a float32 batch (n, 28, 28, 1) from any accepted request body; raise `InputError`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request)
    if content_type == "application/json":
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"the body is not valid JSON: {error}") from None
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
            images = [image_from_bytes(await upload.read()) for upload in uploads if hasattr(upload, "read")]
    elif content_type in IMAGE_TYPES or content_type == "application/octet-stream":
        if many:
            raise InputError("send a batch as multipart `files` fields or as JSON images", 415)
        images = [image_from_bytes(body)]
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


def describe(probabilities: np.ndarray) -> dict:
    """The JSON answer for one image: class index, label and all ten probabilities."""
    index = int(probabilities.argmax())
    return {
        "class_index": index,
        "label": CLASS_NAMES[index],
        "confidence": round(float(probabilities[index]), 6),
        "probabilities": {name: round(float(p), 6) for name, p in zip(CLASS_NAMES, probabilities, strict=True)},
    }


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
        "classes": list(CLASS_NAMES),
        "catalogue_items": len(state["index"]),
        "limits": {"max_upload_bytes": MAX_UPLOAD_BYTES, "max_batch": MAX_BATCH, "max_k": MAX_K},
    }


@app.post("/predict", openapi_extra=IMAGE_BODY)
async def predict(request: Request):
    """Classify one image: the class index, its label, the confidence and all ten probabilities."""
    images = await images_from_request(request, many=False)
    _, probabilities = request.app.state.model["classifier"](images)
    return describe(probabilities[0])


@app.post("/predict/batch", openapi_extra=BATCH_BODY)
async def predict_batch(request: Request):
    """Classify up to `MAX_BATCH` images in one call (multipart `files` fields or JSON `images`)."""
    images = await images_from_request(request, many=True)
    _, probabilities = request.app.state.model["classifier"](images)
    return {"predictions": [describe(row) for row in probabilities]}


@app.post("/similar", openapi_extra=IMAGE_BODY)
async def similar_items(request: Request, k: int = Query(5, description=f"how many items, 1 to {MAX_K}")):
    """The k catalogue items most similar to the image (cosine similarity of the model's embeddings)."""
    state = request.app.state.model
    limit = min(MAX_K, len(state["index"]))
    if not 1 <= k <= limit:
        raise HTTPException(status_code=422, detail=f"k must be between 1 and {limit}, got {k}")
    images = await images_from_request(request, many=False)
    embeddings, probabilities = state["classifier"](images)
    rows, similarities = state["index"].query(embeddings, k)
    items = [
        {
            "id": int(state["index"].ids[row]),
            "label": CLASS_NAMES[int(state["index"].labels[row])],
            "similarity": round(float(s), 6),
        }
        for row, s in zip(rows[0], similarities[0], strict=True)
    ]
    return {"query": describe(probabilities[0]), "items": items}
