"""The API's request bodies and answers as pydantic models: what /docs shows and the fuzzer checks."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from fmnist.core.images import SIZE
from fmnist.serve.settings import MAX_BATCH

# The request bodies: JSON pixels, 0-255 with 0 the background, validated by pydantic.
Pixel = Annotated[float, Field(strict=True, ge=0, le=255, allow_inf_nan=False)]
Grid = Annotated[
    list[Annotated[list[Pixel], Field(min_length=SIZE, max_length=SIZE)]],
    Field(
        min_length=SIZE,
        max_length=SIZE,
        description="28 rows of 28 pixel values from 0 to 255, for the Fashion-MNIST model (a photo model: send files)",
    ),
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
    image_check: str = Field(
        description="`ok`, or the image checks it fails: `cut_off` (the image's edge cuts the garment), `grain`"
    )
    needs_review: bool = Field(
        description="the margin is below the review threshold, or an image check failed: a person should check"
    )
    probabilities: dict[str, float]


class Predictions(BaseModel):
    predictions: list[Prediction]


class Item(BaseModel):
    id: str
    title: str
    label: str
    thumbnail: str = Field(description="the URL of its PNG, the model's input (28 × 28 for Fashion-MNIST's)")


class SimilarItem(Item):
    similarity: float = Field(description="cosine similarity of the model's embeddings")


class SimilarItems(BaseModel):
    query: Prediction
    items: list[SimilarItem]


class Explanation(BaseModel):
    prediction: Prediction
    method: Literal["occlusion"]
    map: list[list[float]] = Field(description="the input's size, in [0, 1]: the drop in the class's probability")


class Review(BaseModel):
    target_accuracy: float
    margin_threshold: float
    image_limits: dict[str, float] = Field(description="each image check's limit (`fmnist.core.review`)")


class Limits(BaseModel):
    max_upload_bytes: int
    max_batch: int
    max_k: int


class ModelInput(BaseModel):
    size: int = Field(description="the side of the model's square input, in pixels")
    channels: Literal[1, 3] = Field(description="1: gray, 3: colour")
    preprocessing: Literal["fashion-mnist", "photo"] = Field(
        description="Fashion-MNIST's conversion, or the photo kept in proportion and resized (fmnist.core.images)"
    )


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    model_sha256: str
    api_version: str
    process: int = Field(description="which worker process answered")
    classes: list[str] = Field(description="the model's class names, in its output's order")
    input: ModelInput
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
