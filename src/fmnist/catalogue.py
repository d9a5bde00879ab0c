"""A shop's catalogue for similar-item search: ids, titles, 28 × 28 thumbnails and embeddings, in one file.

    python -m fmnist.catalogue [--catalogue models/catalogue.npz] build SOURCE   # a new catalogue from SOURCE
    python -m fmnist.catalogue add SOURCE                                     # add items, or replace same ids
    python -m fmnist.catalogue remove ID [ID ...]
    python -m fmnist.catalogue fashion-mnist                                  # the default: the test images
    python -m fmnist.catalogue info

SOURCE is a folder of product images (PNG, JPEG, WebP, ...; the id is the file's path below the folder
without its suffix, the title its name) or a CSV file of `id,path[,title]` rows (paths relative to the CSV),
or the embeddings output of `python -m fmnist.tag --ray` (docs/scale.md): a catalogue of millions embedded
on a cluster, then indexed here once.
Every image goes through the API's own preprocessing (`fmnist.images`) and the exported model
(`models/fashion_cnn.tflite`), so a query photo and a catalogue photo are embedded the same way. A file that
cannot be read is reported by name and skipped. The catalogue is written to a temporary file that then
replaces the old one in one step (`os.replace`): an interrupted build leaves the previous catalogue as it was,
and a running server (`fmnist.serve`) picks the new one up without a restart.

Search is exact (every item's cosine similarity) up to `ANN_THRESHOLD` items, and approximate above it:
a FAISS HNSW graph, stored in the same file (docs/similar.md has the measurements behind both choices).
"""

import argparse
import csv
import dataclasses
import io
import os
import re
import sys
import zipfile
from pathlib import Path, PurePath

import numpy as np
from PIL import Image

from fmnist import CLASS_NAMES, images
from fmnist.files import write_atomically
from fmnist.inference import DEFAULT_CATALOGUE, DEFAULT_MODEL
from fmnist.similar import normalize, top_k

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
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
    labels: np.ndarray  # the model's class for each item
    thumbnails: np.ndarray  # uint8 (n, 28, 28): what the model sees, a light garment on black
    vectors: np.ndarray  # float32 (n, d), unit length
    ann: object = None  # a FAISS index over `vectors` above ANN_THRESHOLD items, else None

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
        """The item's 28 × 28 thumbnail as PNG bytes; `KeyError` for an unknown id."""
        buffer = io.BytesIO()
        Image.fromarray(self.thumbnails[self.rows[item_id]]).save(buffer, format="PNG")
        return buffer.getvalue()

    def item(self, row: int) -> dict:
        return {"id": str(self.ids[row]), "title": str(self.titles[row]), "label": CLASS_NAMES[int(self.labels[row])]}

    def without(self, ids) -> "Catalogue":
        """A copy without the given ids; `KeyError` names any id that is not in it."""
        missing = [item_id for item_id in ids if item_id not in self.rows]
        if missing:
            raise KeyError(f"not in the catalogue: {', '.join(missing)}")
        keep = np.ones(len(self), dtype=bool)
        keep[[self.rows[item_id] for item_id in ids]] = False
        return self.select(keep)

    def select(self, keep) -> "Catalogue":
        return with_engine(*(array[keep] for array in self.arrays()))

    def merged(self, other: "Catalogue") -> "Catalogue":
        """This catalogue with `other`'s items added; an item of `other` replaces one of the same id."""
        keep = ~np.isin(self.ids, other.ids)
        return with_engine(
            *(np.concatenate([mine[keep], theirs]) for mine, theirs in zip(self.arrays(), other.arrays(), strict=True))
        )

    def arrays(self) -> tuple:
        return tuple(getattr(self, field) for field in FIELDS)

    def save(self, path=DEFAULT_CATALOGUE) -> Path:
        """Write the catalogue atomically: readers see the old file or the new one, never a part of one."""
        arrays = dict(zip(FIELDS, self.arrays(), strict=True))
        if self.ann is not None:
            import faiss

            arrays["ann"] = faiss.serialize_index(self.ann)
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


def with_engine(ids, titles, labels, thumbnails, vectors) -> Catalogue:
    """A catalogue of these items, with an ANN index when there are more than `ANN_THRESHOLD` of them."""
    ann = hnsw_index(vectors) if len(vectors) > ANN_THRESHOLD else None
    return Catalogue(ids, titles, labels, thumbnails, vectors, ann)


def embed(pictures: np.ndarray, model_path=DEFAULT_MODEL) -> tuple[np.ndarray, np.ndarray]:
    """(unit-length embeddings, predicted classes) of model inputs (n, 28, 28, 1), by the exported model."""
    from fmnist.runtime import TFLiteClassifier

    classifier = TFLiteClassifier(model_path, num_threads=os.cpu_count() or 1)
    vectors, labels = [], []
    for start in range(0, len(pictures), EMBED_BATCH):
        embeddings, probabilities = classifier(pictures[start : start + EMBED_BATCH])
        vectors.append(normalize(embeddings))
        labels.append(probabilities.argmax(axis=1))
    return np.concatenate(vectors), np.concatenate(labels)


def item_arrays(ids, titles, pictures: np.ndarray, model_path=DEFAULT_MODEL) -> tuple:
    """(ids, titles, labels, thumbnails, vectors) of model inputs (n, 28, 28, 1) in [0, 1], as `images.decode`
    gives them: the arguments of `Catalogue` and `with_engine`."""
    vectors, labels = embed(pictures, model_path)
    thumbnails = (pictures[..., 0] * 255).round().astype(np.uint8)
    return np.asarray(ids, dtype=str), np.asarray(titles, dtype=str), labels, thumbnails, vectors


def from_pictures(ids, titles, pictures: np.ndarray, model_path=DEFAULT_MODEL) -> Catalogue:
    """A catalogue of model inputs (n, 28, 28, 1) in [0, 1], with an ANN index if it is large enough."""
    return with_engine(*item_arrays(ids, titles, pictures, model_path))


def list_source(source: Path) -> tuple[list[tuple[str, Path, str]], list[str]]:
    """([(id, image path, title)], [problems]) for a folder of images or a CSV of `id,path[,title]` rows."""
    if source.is_dir():
        entries, problems = [], []
        for path in sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(f"{path}: skipped, not an image file name ({', '.join(IMAGE_SUFFIXES)})")
                continue
            item_id, title = folder_item(path.relative_to(source))
            entries.append((item_id, path, title))
        return entries, problems
    if source.suffix.lower() == ".csv":
        return read_csv(source)
    raise ValueError(f"{source} is neither a folder of images nor a .csv file of id,path[,title] rows")


def folder_item(relative: PurePath) -> tuple[str, str]:
    """The id and title of the image at `relative` below a folder: its path without the suffix, made safe for
    a URL, and its name in words."""
    item_id = re.sub(r"[^A-Za-z0-9._~-]+", "-", "-".join(relative.with_suffix("").parts)).strip("-.")
    return item_id, relative.stem.replace("_", " ").replace("-", " ")


def read_csv(source: Path) -> tuple[list[tuple[str, Path, str]], list[str]]:
    with open(source, newline="", encoding="utf-8-sig") as file:
        entries, problems = csv_entries(file, source)
    return [(item_id, source.parent / path, title) for item_id, path, title in entries], problems


def csv_entries(file, name) -> tuple[list[tuple[str, str, str]], list[str]]:
    """([(id, path as written, title)], problems) of a CSV file's `id,path[,title]` rows; `name` names it."""
    entries, problems = [], []
    for number, row in enumerate(csv.reader(file), start=1):
        row = [cell.strip() for cell in row]
        if not any(row) or (number == 1 and [cell.lower() for cell in row[:2]] == ["id", "path"]):
            continue
        if len(row) not in (2, 3) or not row[0] or not row[1]:
            problems.append(f"{name}:{number}: skipped, expected id,path[,title], got {row}")
            continue
        title = row[2] if len(row) == 3 and row[2] else PurePath(row[1]).stem
        entries.append((row[0], row[1], title))
    return entries, problems


def read_items(source: Path) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """Decode every image of a source: (ids, titles, model inputs, problems); a bad item never stops the rest."""
    entries, problems = list_source(source)
    ids, titles, pictures, seen = [], [], [], set()
    for item_id, path, title in entries:
        if not ID_PATTERN.fullmatch(item_id):
            problems.append(f"{path}: skipped, id {item_id!r} must be letters, digits, '.', '_', '~' or '-'")
        elif item_id in seen:
            problems.append(f"{path}: skipped, id {item_id!r} appears twice")
        else:
            try:
                pictures.append(images.decode(images.open_image(path.read_bytes())))
            except (OSError, images.InputError) as error:
                problems.append(f"{path}: skipped, {error}")
                continue
            ids.append(item_id)
            titles.append(title)
            seen.add(item_id)
    return ids, titles, np.asarray(pictures, dtype=np.float32).reshape(-1, 28, 28, 1), problems


def from_embeddings(ids, titles, labels, thumbnails, embeddings) -> Catalogue:
    """A catalogue of items whose embeddings are already computed (by the notebook's Keras model, say)."""
    arrays = (np.asarray(ids, dtype=str), np.asarray(titles, dtype=str), np.asarray(labels))
    return with_engine(*arrays, np.asarray(thumbnails, dtype=np.uint8), normalize(embeddings))


def test_image_names(labels) -> tuple[list[str], list[str]]:
    """The ids and titles of Fashion-MNIST's test images, "test-04521" and "Shirt, test image 4521"."""
    ids = [f"test-{number:05d}" for number in range(len(labels))]
    return ids, [f"{CLASS_NAMES[label]}, test image {number}" for number, label in enumerate(labels)]


def fashion_mnist_test(model_path=DEFAULT_MODEL) -> Catalogue:
    """The default catalogue: the 10,000 test images, preprocessed as the API preprocesses an upload."""

    from fmnist import data

    _, (test_images, test_labels) = data.load_data()
    pictures = np.stack([images.to_model_input(image) for image in test_images])
    return from_pictures(*test_image_names(test_labels), pictures, model_path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.catalogue", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--catalogue", type=Path, default=DEFAULT_CATALOGUE, help=f"the catalogue file ({DEFAULT_CATALOGUE})"
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=f"the TFLite model ({DEFAULT_MODEL})")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("build", "a new catalogue from SOURCE"), ("add", "add SOURCE's items (same id: replace)")):
        commands.add_parser(name, help=text).add_argument(
            "source", help="a folder of images, a CSV, or the embeddings output of `fmnist.tag --ray`"
        )
    commands.add_parser("remove", help="remove items by id").add_argument("ids", nargs="+")
    commands.add_parser("fashion-mnist", help="a new catalogue of the 10,000 Fashion-MNIST test images")
    commands.add_parser("info", help="size and engine of the catalogue")
    arguments = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow loads only now; its start-up log is noise here
    try:
        return run(arguments)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        print(f"error: {error.args[0] if isinstance(error, KeyError) else error}", file=sys.stderr)
        return 1


def is_url(source) -> bool:
    """Whether `source` names object storage (`s3://bucket/prefix`) rather than a local path."""
    return "://" in str(source)


def embeddings_output(source: str) -> bool:
    """Whether `source` is the embeddings output of `fmnist.tag --ray` (a Parquet dataset, local or a URL)."""
    return is_url(source) or (Path(source).is_dir() and any(Path(source).glob("*.parquet")))


def source_items(source: str, model_path) -> tuple:
    """The items of a folder or CSV of images, embedded here, or of a Ray run's embeddings output as they are."""
    if embeddings_output(source):
        from fmnist import cluster

        ids, titles, labels, thumbnails, vectors = cluster.read_embeddings(source)
        return np.asarray(ids, dtype=str), np.asarray(titles, dtype=str), labels, thumbnails, normalize(vectors)
    ids, titles, pictures, problems = read_items(Path(source))
    for problem in problems:
        print(problem, file=sys.stderr)
    if not ids:
        raise ValueError(f"no readable image in {source}; the catalogue is unchanged")
    return item_arrays(ids, titles, pictures, model_path)


def run(arguments) -> int:
    path = arguments.catalogue
    if arguments.command == "info":
        catalogue = Catalogue.load(path)
        print(f"{path}: {len(catalogue)} items, {catalogue.vectors.shape[1]}-d embeddings, {catalogue.engine} search")
        return 0
    if arguments.command == "remove":
        catalogue = Catalogue.load(path).without(arguments.ids)
    elif arguments.command == "fashion-mnist":
        catalogue = fashion_mnist_test(arguments.model)
    else:
        items = source_items(arguments.source, arguments.model)
        if arguments.command == "add":  # the merged catalogue gets the ANN index, not the new items alone
            catalogue = Catalogue.load(path).merged(Catalogue(*items))
        else:
            catalogue = with_engine(*items)
    catalogue.save(path)
    print(f"{path}: {len(catalogue)} items, {catalogue.engine} search")
    return 0


if __name__ == "__main__":
    sys.exit(main())
