"""A model folder: the files that serve one trained classifier, and what the model says about itself.

    MODEL_DIR/
        NAME.tflite             the classifier; packed inside it, as LiteRT's metadata packs associated files,
                                a zip archive of labels.txt (the class names, one a line, in output order) and
                                model.json (the input's side and channels, and which preprocessing it takes)
        review_thresholds.json  the margin threshold per target accuracy, chosen on the validation split, and
                                the image checks' limits (`fmnist.core.review`: the Fashion-MNIST model's only)
        catalogue.npz           the items that /similar searches (the API needs one; fmnist.tag does not)
        NAME.keras              the trained Keras model

The Fashion-MNIST model that `make run` writes in models/ is one; `python -m fmnist.train_photos` writes others
(docs/own-photos.md). The standard library reads the labels back: `zipfile.ZipFile(path).read("labels.txt")`.
"""

import dataclasses
import io
import json
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fmnist import CLASS_NAMES
from fmnist.core import images

LABELS, DESCRIPTION = "labels.txt", "model.json"
THRESHOLDS, CATALOGUE = "review_thresholds.json", "catalogue.npz"
# How a photo becomes the model's input: Fashion-MNIST's own conversion (`images.decode`), or the photo kept in
# proportion on its background and resized, as a model trained on photos saw them (`images.fit`).
FASHION_MNIST, PHOTO = "fashion-mnist", "photo"


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a model takes and answers: its class names, its input's side and channels, its preprocessing."""

    labels: tuple[str, ...]
    size: int = images.SIZE
    channels: int = 1
    preprocessing: str = FASHION_MNIST

    def __post_init__(self):
        labels = self.labels
        if len(labels) < 2 or len(set(labels)) != len(labels) or not all(name.strip() for name in labels):
            raise ValueError(f"a model needs two or more distinct, non-empty class names, got {list(labels)}")
        if self.channels not in (1, 3) or self.size < 8 or self.preprocessing not in (FASHION_MNIST, PHOTO):
            raise ValueError(f"unknown model input: {self.size} px, {self.channels} channels, {self.preprocessing}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The input's (height, width, channels)."""
        return self.size, self.size, self.channels

    def prepare(self, image) -> np.ndarray:
        """An image from `images.open_image` as this model's input, float32 `shape` in [0, 1]."""
        if self.preprocessing == FASHION_MNIST:
            return images.decode(image)
        return images.fit(images.pixels(image, max(images.DRAFT_SIZE, 2 * self.size)), self.size, self.channels)


FASHION_MNIST_SPEC = Spec(CLASS_NAMES)


def pack(flatbuffer: bytes, spec: Spec) -> bytes:
    """The TFLite model with `spec` appended as a zip archive of labels.txt and model.json."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
        packed.writestr(LABELS, "".join(f"{name}\n" for name in spec.labels))
        description = {"size": spec.size, "channels": spec.channels, "preprocessing": spec.preprocessing}
        packed.writestr(DESCRIPTION, json.dumps(description, indent=2) + "\n")
    return flatbuffer + archive.getvalue()


def read_spec(path) -> Spec:
    """The spec packed inside the TFLite model at `path`. A model without one was exported before models carried
    their spec, when every model was the Fashion-MNIST model: it gets that model's. `ValueError` for a spec
    that cannot be read."""
    try:
        with zipfile.ZipFile(path) as packed:
            labels = tuple(packed.read(LABELS).decode("utf-8").splitlines())
            description = json.loads(packed.read(DESCRIPTION))
    except zipfile.BadZipFile:
        return FASHION_MNIST_SPEC
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} carries an unreadable {LABELS} or {DESCRIPTION}: {error}") from None
    keys = {field.name for field in dataclasses.fields(Spec)} - {"labels"}
    if set(description) - keys:
        raise ValueError(f"{path}'s {DESCRIPTION} has keys {sorted(set(description) - keys)}, not only {sorted(keys)}")
    return Spec(labels, **description)


class Files(NamedTuple):
    """Where a server or a tagger finds its model, review thresholds and catalogue."""

    model: Path
    thresholds: Path
    catalogue: Path


def files(folder, model=None, thresholds=None, catalogue=None) -> Files:
    """The model folder's files, each unless given on its own: its model (`model_path`), its review thresholds
    and its catalogue. A model given on its own brings the files beside it, not `folder`'s."""
    folder = Path(model).parent if model else Path(folder)
    return Files(
        Path(model) if model else model_path(folder),
        Path(thresholds) if thresholds else folder / THRESHOLDS,
        Path(catalogue) if catalogue else folder / CATALOGUE,
    )


def model_path(folder) -> Path:
    """The folder's classifier: its one .tflite file besides any `_int8` copy."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"the model folder {folder} does not exist")
    models = sorted(path for path in folder.glob("*.tflite") if not path.stem.endswith("_int8"))
    if len(models) != 1:
        found = ", ".join(path.name for path in models) or "none"
        raise ValueError(f"a model folder holds one .tflite model (and any _int8 copy); {folder} holds {found}")
    return models[0]
