"""A shop's photos, listed one way for every tool, and each decoded into the model's input or a reason why not.

A source is a folder of images (the id is the file's path below the folder without its suffix, the title its
name), a CSV file of `id,path[,title]` rows (paths relative to the CSV), or either of them in object storage
(`s3://bucket/prefix`, read through pyarrow's filesystems: the `ray` extra). The catalogue, the local tagger
and the Ray tagger list and decode through here, so a photo gets the same id, title and model input in each.
"""

import csv
import io
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePath, PurePosixPath
from typing import NamedTuple

import numpy as np

from fmnist.core import images
from fmnist.core.model_folder import FASHION_MNIST_SPEC, Spec

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class Item(NamedTuple):
    """One photo of a source: its id, where it is (a local path, or a path in object storage) and its title."""

    id: str
    path: str
    title: str


class Decoded(NamedTuple):
    """A photo as the model's input (`Spec.shape`), or, where `problem` is not empty, why it has none."""

    picture: np.ndarray | None = None
    problem: str = ""


def is_url(source) -> bool:
    """Whether `source` names object storage (`s3://bucket/prefix`) rather than a local path."""
    return "://" in str(source)


def filesystem(location: str):
    """(pyarrow filesystem, path in it) for a local path or a URL such as `s3://bucket/prefix?endpoint_override=
    127.0.0.1:9000&scheme=http` (credentials from the environment, as the AWS tools read them)."""
    from pyarrow import fs

    if is_url(location):
        return fs.FileSystem.from_uri(location)
    return fs.LocalFileSystem(), str(Path(location).resolve())


def list_source(source) -> tuple[list[Item], list[str]]:
    """([items], [problems]) of a folder, a CSV of `id,path[,title]` rows, or either in object storage."""
    if is_url(source):
        return list_storage(str(source))
    source = Path(source)
    if source.is_dir():
        files = (path for path in source.rglob("*") if path.is_file())
        return folder_items((path.relative_to(source), str(path)) for path in files)
    if source.suffix.lower() == ".csv":
        with open(source, newline="", encoding="utf-8-sig") as file:
            return csv_items(file, source, lambda written: str(source.parent / written))
    raise ValueError(f"{source} is neither a folder of images nor a .csv file of id,path[,title] rows")


def list_storage(source: str) -> tuple[list[Item], list[str]]:
    """`list_source` of a folder (a prefix) or a CSV in object storage."""
    from pyarrow import fs

    files, root = filesystem(source)
    if root.lower().endswith(".csv"):
        with files.open_input_stream(root) as stream:
            text = io.TextIOWrapper(io.BytesIO(stream.read()), encoding="utf-8-sig", newline="")
        return csv_items(text, source, lambda written: posixpath.join(posixpath.dirname(root), written))
    root = root.rstrip("/")
    infos = files.get_file_info(fs.FileSelector(root, recursive=True))
    return folder_items((PurePosixPath(i.path).relative_to(root), i.path) for i in infos if i.type == fs.FileType.File)


def folder_items(files: Iterable[tuple[PurePath, str]]) -> tuple[list[Item], list[str]]:
    """([items], [problems]) of a folder's files, given as (path below the folder, full path), in path order;
    hidden files are left out, and a file whose suffix is not an image's is a problem."""
    items, problems = [], []
    for relative, path in sorted(files):
        if relative.name.startswith("."):
            continue
        if relative.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(f"{path}: skipped, not an image file name ({', '.join(IMAGE_SUFFIXES)})")
            continue
        item_id, title = folder_item(relative)
        items.append(Item(item_id, path, title))
    return items, problems


def folder_item(relative: PurePath) -> tuple[str, str]:
    """The id and title of the image at `relative` below a folder: its path without the suffix, made safe for
    a URL, and its name in words."""
    item_id = re.sub(r"[^A-Za-z0-9._~-]+", "-", "-".join(relative.with_suffix("").parts)).strip("-.")
    return item_id, relative.stem.replace("_", " ").replace("-", " ")


def csv_items(file, name, locate: Callable[[str], str]) -> tuple[list[Item], list[str]]:
    """([items], [problems]) of a CSV file's `id,path[,title]` rows; `name` names the file in a problem, and
    `locate` turns a path as written into the photo's path."""
    items, problems = [], []
    for number, row in enumerate(csv.reader(file), start=1):
        row = [cell.strip() for cell in row]
        if not any(row) or (number == 1 and [cell.lower() for cell in row[:2]] == ["id", "path"]):
            continue
        if len(row) not in (2, 3) or not row[0] or not row[1]:
            problems.append(f"{name}:{number}: skipped, expected id,path[,title], got {row}")
            continue
        title = row[2] if len(row) == 3 and row[2] else PurePath(row[1]).stem
        items.append(Item(row[0], locate(row[1]), title))
    return items, problems


def decode_photo(data: bytes, spec: Spec = FASHION_MNIST_SPEC) -> Decoded:
    """A photo file's bytes through the API's own preprocessing for the model that `spec` describes."""
    try:
        return Decoded(picture=spec.prepare(images.open_image(data)))
    except images.InputError as error:
        return Decoded(problem=f"skipped, {error}")


def read_photo(path: str, spec: Spec = FASHION_MNIST_SPEC) -> Decoded:
    """A local photo file read and decoded: what each of the local tagger's decoding processes runs."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return Decoded(problem=f"skipped, {error}")
    return decode_photo(data, spec)


def decoded_items(
    items: Sequence[Item], results: Iterable[Decoded], problems: list, shape=FASHION_MNIST_SPEC.shape
) -> tuple[list, np.ndarray]:
    """The items whose photo decoded and their model inputs (n, *shape), in order; each other item's problem
    is appended to `problems` as "path: problem"."""
    kept, pictures = [], []
    for item, result in zip(items, results, strict=True):
        if result.problem:
            problems.append(f"{item.path}: {result.problem}")
        else:
            kept.append(item)
            pictures.append(result.picture)
    return kept, np.asarray(pictures, dtype=np.float32).reshape(-1, *shape)
