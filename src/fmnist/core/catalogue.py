"""A shop's catalogue for similar-item search: ids, titles, classes, thumbnails and embeddings, in one file.

A catalogue is built from photos (`from_source`, `from_pictures`: each through the API's own preprocessing,
`fmnist.core.images`, and the exported model, by default `models/fashion_cnn.tflite`, so a query photo and a
catalogue photo are embedded the same way; the model serving queries must be the one that built it) or from
embeddings computed elsewhere (`from_embeddings`: the notebook's Keras model, or the Ray tagger's output).
`Catalogue.save` writes a temporary file that then replaces the old one in one step (`os.replace`): an
interrupted write leaves the previous catalogue as it was, and a running server (`fmnist.serve`) picks the new
one up without a restart. Its command line is `python -m fmnist.tag.catalogue`.

Search is exact (every item's cosine similarity) up to `ANN_THRESHOLD` items, and approximate above it:
a FAISS HNSW graph, stored in the same file (docs/similar.md has the measurements behind both choices).
"""

import dataclasses
import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from fmnist import CLASS_NAMES
from fmnist.core import model_folder, sources
from fmnist.core.files import write_atomically
from fmnist.core.inference import DEFAULT_CATALOGUE, DEFAULT_MODEL
from fmnist.core.runtime import TFLiteClassifier
from fmnist.core.search import normalize, top_k

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")  # safe in a URL path segment as it is
ANN_THRESHOLD = 20_000  # items; exact search at or below: its p99 stays near 1 ms (reports/similar_benchmark.json)
HNSW_NEIGHBOURS, HNSW_BUILD_DEPTH, HNSW_SEARCH_DEPTH = 32, 80, 96
EMBED_BATCH = 256
FIELDS = ("ids", "titles", "labels", "thumbnails", "vectors")  # a catalogue's arrays, one row per item


@dataclasses.dataclass
class Catalogue:
    """Items with their ids, titles, predicted classes, thumbnails and unit-length embeddings, one row each."""

    ids: np.ndarray  # str
    titles: np.ndarray  # str
    labels: np.ndarray  # str: the model's class name for each item
    thumbnails: np.ndarray  # uint8 (n, side, side[, 3]): what the model sees (Fashion-MNIST's: light on black)
    vectors: np.ndarray  # float32 (n, d), unit length
    ann: object = None  # a FAISS index over `vectors` (`indexed`, `save`), else None: exact search

    def __post_init__(self):
        sizes = {len(array) for array in self.arrays()}
        if len(sizes) != 1:
            raise ValueError(f"a catalogue needs as many ids, titles, labels, thumbnails and vectors: {sizes}")
        self.rows = {item_id: row for row, item_id in enumerate(self.ids.tolist())}
        if len(self.rows) != len(self.ids):
            raise ValueError("catalogue ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def engine(self) -> str:
        return "exact" if self.ann is None else "faiss-hnsw"

    def search(self, embeddings, k: int):
        """(rows, cosine similarities) of the k items nearest each embedding, each (n, k), nearest first."""
        if not 1 <= k <= len(self):
            raise ValueError(f"k must be between 1 and {len(self)}, got {k}")
        queries = normalize(embeddings)
        if self.ann is None:
            return top_k(queries @ self.vectors.T, k)
        similarities, rows = self.ann.search(queries, k)
        return rows, similarities

    def thumbnail_png(self, item_id: str) -> bytes:
        """The item's thumbnail as PNG bytes; `KeyError` for an unknown id."""
        buffer = io.BytesIO()
        Image.fromarray(self.thumbnails[self.rows[item_id]]).save(buffer, format="PNG")
        return buffer.getvalue()

    def item(self, row: int) -> dict:
        return {"id": str(self.ids[row]), "title": str(self.titles[row]), "label": str(self.labels[row])}

    def indexed(self) -> "Catalogue":
        """This catalogue with an ANN index when it holds more than `ANN_THRESHOLD` items, else searched exactly."""
        return dataclasses.replace(self, ann=hnsw_index(self.vectors) if len(self) > ANN_THRESHOLD else None)

    def without(self, ids) -> "Catalogue":
        """A copy without the given ids; `KeyError` names any id that is not in it."""
        missing = [item_id for item_id in ids if item_id not in self.rows]
        if missing:
            raise KeyError(f"not in the catalogue: {', '.join(missing)}")
        keep = np.ones(len(self), dtype=bool)
        keep[[self.rows[item_id] for item_id in ids]] = False
        return Catalogue(*(array[keep] for array in self.arrays()))

    def merged(self, other: "Catalogue") -> "Catalogue":
        """This catalogue with `other`'s items added; an item of `other` replaces one of the same id. Both must
        come from one model: `ValueError` where their inputs or embeddings differ in shape."""
        shapes = [(catalogue.thumbnails.shape[1:], catalogue.vectors.shape[1:]) for catalogue in (self, other)]
        if shapes[0] != shapes[1]:
            raise ValueError(f"the catalogues come from different models: inputs and embeddings {shapes}")
        keep = ~np.isin(self.ids, other.ids)
        pairs = zip(self.arrays(), other.arrays(), strict=True)
        return Catalogue(*(np.concatenate([mine[keep], theirs]) for mine, theirs in pairs))

    def arrays(self) -> tuple:
        """The arrays of `FIELDS`, in that order."""
        return tuple(getattr(self, field) for field in FIELDS)

    def save(self, path=DEFAULT_CATALOGUE) -> Path:
        """Write the catalogue atomically: readers see the old file or the new one, never a part of one. Above
        `ANN_THRESHOLD` items the file holds the ANN index too, built here if this catalogue has none."""
        arrays = dict(zip(FIELDS, self.arrays(), strict=True))
        ann = self.ann if self.ann is not None else self.indexed().ann
        if ann is not None:
            import faiss

            arrays["ann"] = faiss.serialize_index(ann)
        with write_atomically(path) as file:
            np.savez(file, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path=DEFAULT_CATALOGUE) -> "Catalogue":
        """Read a catalogue written by `save`; `ValueError` or `OSError` says what is wrong with the file."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path} is not a catalogue file: {error}") from None
        missing = set(FIELDS) - arrays.keys()
        if missing:
            raise ValueError(f"{path} is not a catalogue file: it has no {', '.join(sorted(missing))}")
        if arrays["labels"].dtype.kind in "iu":  # written before catalogues held class names: Fashion-MNIST's
            arrays["labels"] = np.asarray(CLASS_NAMES)[arrays["labels"]]
        ann = arrays.pop("ann", None)
        if ann is not None:
            import faiss

            ann = faiss.deserialize_index(ann)
            ann.hnsw.efSearch = HNSW_SEARCH_DEPTH
        return cls(**arrays, ann=ann)


def hnsw_index(vectors: np.ndarray):
    """A FAISS HNSW graph over unit-length vectors, searched by inner product (= cosine similarity)."""
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction, index.hnsw.efSearch = HNSW_BUILD_DEPTH, HNSW_SEARCH_DEPTH
    index.add(vectors)
    return index


def from_embeddings(ids, titles, labels, thumbnails, embeddings, classes=CLASS_NAMES) -> Catalogue:
    """A catalogue of items whose embeddings are already computed (by the notebook's Keras model, say); `labels`
    are indices into the model's class names, `classes`."""
    return Catalogue(
        ids=np.asarray(ids, dtype=str),
        titles=np.asarray(titles, dtype=str),
        labels=np.asarray(classes, dtype=str)[np.asarray(labels, dtype=int)],
        thumbnails=np.asarray(thumbnails, dtype=np.uint8),
        vectors=normalize(embeddings),
    )


def fashion_mnist_names(labels) -> tuple[list[str], list[str]]:
    """The ids and titles of Fashion-MNIST's test images, "test-04521" and "Shirt, test image 4521", for
    `from_embeddings(*fashion_mnist_names(labels), ...)`."""
    ids = [f"test-{number:05d}" for number in range(len(labels))]
    return ids, [f"{CLASS_NAMES[label]}, test image {number}" for number, label in enumerate(labels)]


def embed(pictures: np.ndarray, model_path=DEFAULT_MODEL) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, predicted class indices) of model inputs, by the exported model."""
    classifier = TFLiteClassifier(model_path, num_threads=os.cpu_count() or 1)
    vectors, labels = [], []
    for start in range(0, len(pictures), EMBED_BATCH):
        embeddings, probabilities = classifier(pictures[start : start + EMBED_BATCH])
        vectors.append(embeddings)
        labels.append(probabilities.argmax(axis=1))
    return np.concatenate(vectors), np.concatenate(labels)


def from_pictures(ids, titles, pictures: np.ndarray, model_path=DEFAULT_MODEL) -> Catalogue:
    """A catalogue of model inputs in [0, 1], as the model's `Spec.prepare` gives them, embedded by the
    exported model."""
    vectors, labels = embed(pictures, model_path)
    classes = model_folder.read_spec(model_path).labels
    return from_embeddings(ids, titles, labels, thumbnails(pictures), vectors, classes)


def thumbnails(pictures: np.ndarray) -> np.ndarray:
    """The uint8 thumbnails, (n, side, side) or (n, side, side, 3), of model inputs (n, side, side, 1 or 3)."""
    pixels = pictures[..., 0] if pictures.shape[-1] == 1 else pictures
    return (pixels * 255).round().astype(np.uint8)


def id_problem(item: sources.Item, taken: set[str]) -> str:
    """Why `item`'s id cannot be a catalogue's (empty if it can): its characters, or an id already `taken`."""
    if not ID_PATTERN.fullmatch(item.id):
        return f"skipped, id {item.id!r} must be letters, digits, '.', '_', '~' or '-'"
    return f"skipped, id {item.id!r} appears twice" if item.id in taken else ""


def from_source(source, problems: list, model_path=DEFAULT_MODEL) -> Catalogue:
    """A catalogue of every photo of a folder or CSV (`sources.list_source`) that can be read and has a valid id
    of its own; each other item's problem is appended to `problems`, and `ValueError` says when none is left."""
    items, listing_problems = sources.list_source(source)
    problems.extend(listing_problems)
    return from_items(items, problems, model_path, source)


def from_items(
    items: list[sources.Item], problems: list, model_path=DEFAULT_MODEL, source="the source", prepared=None
) -> Catalogue:
    """`from_source` for items listed already; `prepared` maps the path of each photo decoded already to its
    model input, which is then not read again."""
    spec, prepared = model_folder.read_spec(model_path), prepared or {}
    results, taken = [], set()
    for item in items:
        problem = id_problem(item, taken)
        if problem:
            result = sources.Decoded(problem=problem)
        elif item.path in prepared:
            result = sources.Decoded(prepared[item.path])
        else:
            result = sources.read_photo(item.path, spec)
        if not result.problem:
            taken.add(item.id)
        results.append(result)
    kept, pictures = sources.decoded_items(items, results, problems, spec.shape)
    if not kept:
        raise ValueError(f"no readable image in {source}; the catalogue is unchanged")
    return from_pictures([item.id for item in kept], [item.title for item in kept], pictures, model_path)
