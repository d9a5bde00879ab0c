"""The API's settings, read from the environment once per process, and the fixed limits of a request."""

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fmnist.core import model_folder
from fmnist.core.inference import DEFAULT_MODEL_DIR, DEFAULT_TARGET

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # a larger body is refused while it arrives, before it is buffered
MAX_BATCH = 64  # images in one /predict/batch request
MAX_K = 50  # similar items in one answer
MAX_LISTED = 100  # catalogue items on one page
INLINE_PIXELS = 512 * 512  # larger images decode in a worker thread, not in the event loop
HEAVY_DECODES = 1  # such decodes at a time per process: a client of huge images slows itself, not the others
CATALOGUE_POLL_SECONDS = 1.0  # how often the catalogue file is checked for a replacement


class Settings(BaseSettings):
    """Where the API's files are, the accuracy that its review flag aims at, and the drain time at SIGTERM."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True)

    model_dir: Path = Field(
        DEFAULT_MODEL_DIR,
        validation_alias="FMNIST_MODEL_DIR",
        description="a model folder (`make run`'s, or `python -m fmnist.train_photos`'s): the three files below",
    )
    model: Path | None = Field(
        None, validation_alias="FMNIST_MODEL", description="the exported TFLite model; default: the folder's"
    )
    catalogue: Path | None = Field(
        None, validation_alias="FMNIST_CATALOGUE", description="default: the folder's catalogue.npz, or a shop's own"
    )
    review_thresholds: Path | None = Field(
        None,
        validation_alias="FMNIST_REVIEW_THRESHOLDS",
        description="default: the folder's review thresholds and image-check limits",
    )
    target_accuracy: str = Field(
        DEFAULT_TARGET, validation_alias="FMNIST_TARGET_ACCURACY", description="a target of that file: 0.99"
    )
    drain_seconds: float = Field(
        0.0,
        validation_alias="FMNIST_DRAIN_SECONDS",
        description="between SIGTERM (readiness turns 503) and the server's graceful shutdown",
    )


def files(settings: Settings) -> model_folder.Files:
    """The model, review thresholds and catalogue that `settings` name, or else their model folder's."""
    return model_folder.files(settings.model_dir, settings.model, settings.review_thresholds, settings.catalogue)


def variable(field: str) -> str:
    """The environment variable that sets `field`: FMNIST_MODEL for `model`."""
    return Settings.model_fields[field].validation_alias


@functools.cache
def get_settings() -> Settings:
    """The settings, read from the environment at the first call in this process."""
    return Settings()
