"""The request bodies as FastAPI dependencies: the media type, an uploaded or raw image, JSON pixels or images.

Each image endpoint takes a multipart upload (`UploadFile`), the raw image bytes with an image content type,
or JSON pixels (a pydantic body); `single_image` and `image_batch` turn any of them into the model's input.
Bodies over the upload limit never get here: the app's middleware refuses them while they arrive.
"""

from typing import Annotated

import anyio
import numpy as np
from fastapi import Depends, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from fmnist.core.images import open_image
from fmnist.core.model_folder import FASHION_MNIST
from fmnist.serve.schemas import ImagesBody, PixelsBody
from fmnist.serve.service import Service
from fmnist.serve.settings import INLINE_PIXELS, MAX_BATCH

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")


class UnsupportedMediaType(ValueError):
    """A content type that the endpoint does not take (HTTP 415); the message names those it does."""

    def __init__(self, kind: str, accepted: str):
        super().__init__(f"unsupported content type {kind or '(none)'}: send {accepted}")


async def get_service(request: Request) -> Service:
    """The dependency that hands each endpoint this process's `Service` (async: no thread hop)."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


async def decoded(service: Service, payload: bytes) -> np.ndarray:
    """Decode an uploaded file: small images in the event loop, large ones in a worker thread, few at a time.

    Decoding a 6000 × 6000 PNG takes a fifth of a second: in the event loop it would stall every other request.
    """
    image, prepare = open_image(payload), service.predictor.spec.prepare  # reads the header only
    if image.width * image.height <= INLINE_PIXELS:
        return prepare(image)
    return await anyio.to_thread.run_sync(prepare, image, limiter=service.heavy_decodes)


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


def from_pixels(service: Service, grid: list[list[float]]) -> np.ndarray:
    """The Fashion-MNIST model's input (28, 28, 1) in [0, 1] from validated JSON pixels; a model trained on
    photos takes image files only (HTTP 415)."""
    spec = service.predictor.spec
    if spec.preprocessing != FASHION_MNIST:
        raise UnsupportedMediaType("application/json", f"an image file: this model takes photos, {spec.shape}")
    return np.asarray(grid, np.float32)[..., np.newaxis] / 255


async def single_image(
    request: Request,
    service: ServiceDep,
    file: Annotated[UploadFile | None, File(description="the photo: PNG, JPEG, WebP, GIF, BMP or TIFF")] = None,
) -> np.ndarray:
    """The image of a request, as a batch of one: a multipart `file`, raw image bytes, or JSON `pixels`."""
    kind = media_type(request)
    if kind == "multipart/form-data":
        if file is None:
            raise HTTPException(422, 'the form has no "file" field with an image')
        if len((await request.form()).getlist("file")) > 1:  # the form FastAPI parsed, not parsed again
            raise HTTPException(422, "this endpoint takes one image; send several to /predict/batch")
        picture = await decoded(service, await file.read())
    elif kind == "application/json":
        picture = from_pixels(service, (await json_body(request, PixelsBody)).pixels)
    elif kind in IMAGE_TYPES or kind == "application/octet-stream":
        picture = await decoded(service, await request.body())
    else:
        raise UnsupportedMediaType(kind, f"multipart/form-data, application/json or one of {', '.join(IMAGE_TYPES)}")
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
            raise HTTPException(422, 'the form has no "files" field with an image')
        if len(files) > MAX_BATCH:
            raise HTTPException(413, f"a batch holds at most {MAX_BATCH} images")
        pictures = [await decoded(service, await upload.read()) for upload in files]
    elif kind == "application/json":
        pictures = [from_pixels(service, grid) for grid in (await json_body(request, ImagesBody)).images]
    else:
        raise UnsupportedMediaType(kind, "a batch as multipart `files` fields or as JSON images")
    return np.stack(pictures)


def openapi_request_bodies(model: type[BaseModel], raw: bool) -> dict:
    """For OpenAPI, the request bodies that FastAPI cannot derive from a dependency's `File` parameter: JSON
    `model`, and with `raw` the image bytes themselves."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    if raw:
        content |= {kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES}
    return {"requestBody": {"content": content}}


# An endpoint's parameter annotated `SingleImage` receives a batch of one image, `ImageBatch` up to MAX_BATCH;
# the route passes the matching bodies to OpenAPI (`openapi_extra`).
SingleImage = Annotated[np.ndarray, Depends(single_image)]
ImageBatch = Annotated[np.ndarray, Depends(image_batch)]
SINGLE_IMAGE_BODIES = openapi_request_bodies(PixelsBody, raw=True)
IMAGE_BATCH_BODIES = openapi_request_bodies(ImagesBody, raw=False)
