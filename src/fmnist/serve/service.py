"""What one server process serves with, loaded once at start-up: the model, the catalogue and the review rule.

A rebuilt catalogue is picked up within a second, without a restart, and a request always searches one whole
catalogue, the old or the new. Nothing here imports TensorFlow. Predictions run on the LiteRT interpreter
directly in the event loop: one call costs well under a millisecond, far less than a thread hand-off. An
explanation takes up to 729 predictions (occlusion), so it runs in a worker thread on an interpreter of its own.
"""

import asyncio
import hashlib
import logging
from pathlib import Path

import anyio

from fmnist.core.catalogue import Catalogue
from fmnist.core.inference import Predictor
from fmnist.core.model_folder import Files
from fmnist.core.review import load_review_rule
from fmnist.core.runtime import TFLiteClassifier
from fmnist.serve.settings import CATALOGUE_POLL_SECONDS, HEAVY_DECODES, Settings, files, variable

logger = logging.getLogger(__name__)


class Service:
    """The predictor, a second interpreter for explanations, the catalogue (swapped whole when its file
    changes), the settings it was loaded with, the files they name, and whether to take new traffic."""

    def __init__(self, settings: Settings):
        self.files = where(settings)
        self.predictor, self.explainer, self.catalogue = load(settings, self.files)
        self.settings = settings
        self.catalogue_file = file_signature(self.files.catalogue)
        self.sha256 = hashlib.sha256(self.files.model.read_bytes()).hexdigest()
        self.heavy_decodes = anyio.CapacityLimiter(HEAVY_DECODES)
        self.explanations = anyio.CapacityLimiter(1)  # one at a time: they share one interpreter
        self.ready = True

    async def watch_catalogue(self) -> None:
        """Swap in the catalogue file whenever it changes; a file that fails to load leaves the current one."""
        path = self.files.catalogue
        while True:
            await asyncio.sleep(CATALOGUE_POLL_SECONDS)
            signature = file_signature(path)
            if signature is None or signature == self.catalogue_file:
                continue
            try:
                catalogue = await anyio.to_thread.run_sync(Catalogue.load, path)
            except (OSError, ValueError, RuntimeError) as error:
                logger.warning("kept the current catalogue, it did not load: %s", error)
            else:
                self.catalogue = catalogue  # one assignment: each request holds the catalogue it started with
                logger.info("catalogue reloaded: %d items", len(catalogue))
            self.catalogue_file = signature


def where(settings: Settings) -> Files:
    """The files to serve; a model folder without its model stops the start with the variable that names it."""
    try:
        return files(settings)
    except ValueError as error:
        raise RuntimeError(f"cannot start the API: {error} ({variable('model_dir')}={settings.model_dir})") from error


def load(settings: Settings, paths: Files) -> tuple[Predictor, TFLiteClassifier, Catalogue]:
    """The predictor, the explanations' interpreter and the catalogue; a failure names the file, the variable
    that sets it and the command that creates it."""
    try:
        rule = load_review_rule(paths.thresholds, settings.target_accuracy)
    except RuntimeError as error:
        where = f"{variable('review_thresholds')}={paths.thresholds}, {variable('target_accuracy')}"
        raise RuntimeError(f"cannot start the API: {error} ({where}={settings.target_accuracy})") from error
    try:
        return Predictor(paths.model, rule), TFLiteClassifier(paths.model), Catalogue.load(paths.catalogue)
    except (OSError, ValueError, KeyError) as error:
        raise RuntimeError(
            f"cannot start the API: {error}. It needs the TFLite model ({variable('model')}={paths.model}) "
            f"and the catalogue ({variable('catalogue')}={paths.catalogue}), by default those of the model folder "
            f"{variable('model_dir')}={settings.model_dir}: `make run` writes models/, `python -m fmnist.train_photos` "
            "a shop's own, and `python -m fmnist.tag.catalogue build FOLDER` a catalogue of your own images."
        ) from error


def file_signature(path: Path):
    """What changes when a file is replaced (`os.replace` gives it a new inode) or rewritten; None if absent."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns
