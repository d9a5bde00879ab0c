"""The image endpoints: classify one image or a batch, find similar catalogue items, explain a prediction."""

import io
from typing import Literal

import anyio
import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from PIL import Image

from fmnist.core.images import background_colour
from fmnist.core.inference import describe
from fmnist.core.model_folder import PHOTO, Spec
from fmnist.core.occlusion import BLACK, occlusion
from fmnist.core.runtime import TFLiteClassifier
from fmnist.serve.dependencies import IMAGE_BATCH_BODIES, SINGLE_IMAGE_BODIES, ImageBatch, ServiceDep, SingleImage
from fmnist.serve.routers.catalogue import item_with_thumbnail
from fmnist.serve.schemas import PROBLEMS, Explanation, Prediction, Predictions, SimilarItems
from fmnist.serve.settings import MAX_K

router = APIRouter(tags=["predictions"], responses=PROBLEMS)


@router.post("/predict", response_model=Prediction, openapi_extra=SINGLE_IMAGE_BODIES)
async def predict(service: ServiceDep, images: SingleImage):
    """Classify one image: the class, its calibrated confidence, the runner-up, every class's probability, and
    `needs_review`: whether the tag falls short of the target accuracy ($FMNIST_TARGET_ACCURACY) on its own,
    or the image fails a check (`image_check`)."""
    _embeddings, answers = service.predictor(images)
    return answers[0]


@router.post("/predict/batch", response_model=Predictions, openapi_extra=IMAGE_BATCH_BODIES)
async def predict_batch(service: ServiceDep, images: ImageBatch):
    """Classify up to `MAX_BATCH` images in one call (multipart `files` fields or JSON `images`)."""
    _embeddings, answers = service.predictor(images)
    return {"predictions": answers}


@router.post("/similar", response_model=SimilarItems, openapi_extra=SINGLE_IMAGE_BODIES)
async def similar_items(
    service: ServiceDep, images: SingleImage, k: int = Query(5, description=f"how many items, 1 to {MAX_K}")
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
        {**item_with_thumbnail(catalogue, row), "similarity": round(float(similarity), 6)}
        for row, similarity in zip(rows[0], similarities[0], strict=True)
    ]
    return {"query": answers[0], "items": items}


def explain_image(classifier: TFLiteClassifier, image: np.ndarray, spec: Spec):
    """Probabilities and the occlusion map of one image. The patch grows with the image (2 × 2 at 28 × 28, then
    moved half its side at a time); a photo's patches are blanked to its background colour, not to black."""
    predict = lambda batch: classifier(batch)[1]  # noqa: E731
    probabilities = predict(image[np.newaxis])[0]
    patch = max(2, image.shape[0] // 14)
    fill = background_colour(image).astype("float32") if spec.preprocessing == PHOTO else BLACK
    heat = occlusion(predict, image[np.newaxis], [probabilities.argmax()], patch, max(1, patch // 2), fill)
    return probabilities, heat[0]


def overlay_png(image: np.ndarray, heat: np.ndarray, side: int = 224) -> bytes:
    """The image (gray or in colour) with the map in red to yellow on top, `side` pixels wide, as PNG bytes."""
    base = np.repeat(image * 255, 3, axis=-1) if image.shape[-1] == 1 else image * 255
    colour = np.stack([np.full_like(heat, 255), 255 * heat, np.zeros_like(heat)], axis=-1)
    alpha = 0.7 * heat[..., np.newaxis]
    pixels = ((1 - alpha) * base + alpha * colour).round().astype(np.uint8)
    picture = Image.fromarray(pixels).resize((side, side), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@router.post(
    "/explain",
    response_model=Explanation,
    openapi_extra=SINGLE_IMAGE_BODIES,
    responses={200: {"content": {"image/png": {}}, "description": "JSON, or the overlay as PNG"}},
)
async def explain_prediction(
    request: Request,
    service: ServiceDep,
    images: SingleImage,
    output: Literal["json", "png"] = Query("json", alias="format", description="json, or png for an overlay"),
):
    """Which pixels the prediction rests on: occlusion, the drop in the predicted class's probability when
    each 2 × 2 patch is blanked (larger on a larger input), as a map of the input's size in [0, 1]. Ask for
    `image/png` (`Accept` header or `?format=png`) to get the map over the image as a picture."""
    probabilities, heat = await anyio.to_thread.run_sync(
        explain_image, service.explainer, images[0], service.predictor.spec, limiter=service.explanations
    )
    if output == "png" or "image/png" in request.headers.get("accept", ""):
        return Response(overlay_png(images[0], heat), media_type="image/png")
    rule = service.predictor.rule
    answer = describe(probabilities, rule, service.predictor.spec.labels, rule.image_checks(images[:1])[0])
    return {"prediction": answer, "method": "occlusion", "map": np.round(heat, 3).tolist()}
