"""Tag, and on request embed, a whole catalogue on a Ray cluster: `python -m fmnist.tag SOURCE --ray [ADDRESS]`.

Ray Data runs the pipeline that its batch-inference guide describes. The photos' bytes are read by tasks,
through pyarrow's filesystems (a local or shared folder, or object storage: `s3://bucket/prefix/`). A pool of
actors decodes, converts and classifies them (`map_batches` with an `ActorPoolStrategy`): each actor loads
the exported TFLite model and the review threshold once, with LiteRT on one thread. Each actor asks for a
fraction of a CPU, so the read and write tasks always find one. The tags are written as Parquet, or CSV on
request, in the columns of the local `fmnist.tag` and with the same values. The embeddings go to a second
Parquet output, which `python -m fmnist.catalogue build` indexes. A file that cannot be read or decoded is
named, with the reason, in `OUTPUT.problems.csv`. A rerun skips the ids already in the output. docs/scale.md
says how to run it on a real cluster.
"""

import csv
import io
import posixpath
import urllib.parse
from pathlib import Path, PurePosixPath

import numpy as np

from fmnist import catalogue, images
from fmnist.inference import Predictor
from fmnist.similar import normalize
from fmnist.tag import COLUMNS as TAG_COLUMNS  # the local tagger's columns, in its order

EMBEDDING_COLUMNS = ("id", "title", "class_index", "thumbnail", "embedding")
BLOCK_ROWS = 1000  # photos per block of the dataset: the unit a read task or an actor takes at a time
BATCH = 256  # photos per call of an actor


def filesystem(location: str):
    """(pyarrow filesystem, path in it) for a local path or a URL such as `s3://bucket/prefix?endpoint_override=
    127.0.0.1:9000&scheme=http` (credentials from the environment, as the AWS tools read them)."""
    from pyarrow import fs

    if catalogue.is_url(location):
        return fs.FileSystem.from_uri(location)
    return fs.LocalFileSystem(), str(Path(location).resolve())


def list_entries(source: str) -> tuple[list[tuple[str, str, str]], list[str], object]:
    """([(id, path, title)], problems, filesystem) of a folder, a CSV of id,path[,title] rows or an object-storage
    prefix or CSV, with the ids and titles `fmnist.catalogue` gives a local folder or CSV."""
    from pyarrow import fs

    files, root = filesystem(source)
    if not catalogue.is_url(source):
        entries, problems = catalogue.list_source(Path(source))
        return [(item_id, str(path.resolve()), title) for item_id, path, title in entries], problems, files
    if root.lower().endswith(".csv"):
        with files.open_input_stream(root) as stream:
            text = io.TextIOWrapper(io.BytesIO(stream.read()), encoding="utf-8-sig", newline="")
            entries, problems = catalogue.csv_entries(text, source)
        return [(i, posixpath.join(posixpath.dirname(root), p), t) for i, p, t in entries], problems, files
    entries, problems = [], []
    infos = files.get_file_info(fs.FileSelector(root.rstrip("/"), recursive=True))
    for info in sorted((i for i in infos if i.type == fs.FileType.File), key=lambda i: i.path):
        relative = PurePosixPath(info.path).relative_to(root.rstrip("/"))
        if relative.name.startswith("."):
            continue
        if relative.suffix.lower() not in catalogue.IMAGE_SUFFIXES:
            problems.append(f"{info.path}: skipped, not an image file name ({', '.join(catalogue.IMAGE_SUFFIXES)})")
            continue
        item_id, title = catalogue.folder_item(relative)
        entries.append((item_id, info.path, title))
    return entries, problems, files


def read_bytes(batch, files) -> dict:
    """A read task: each photo's bytes, or why they cannot be read (an empty problem: none)."""
    data, problems = [], []
    for path in batch["path"]:
        try:
            with files.open_input_file(path) as file:
                data.append(file.read())
            problems.append("")
        except OSError as error:
            data.append(b"")
            problems.append(f"skipped, {error}")
    return {**batch, "bytes": np.array(data, dtype=object), "problem": np.array(problems, dtype=object)}


class Tagger:
    """An actor: the model and the review threshold loaded once, then batches of photos decoded and tagged."""

    def __init__(self, model: bytes, threshold: float, embeddings: bool):
        import tempfile

        self.folder = tempfile.TemporaryDirectory()  # LiteRT reads a file; removed with the actor
        path = Path(self.folder.name, "model.tflite")
        path.write_bytes(model)
        self.predictor = Predictor(path, threshold, num_threads=1)  # one thread: the pool is the parallelism
        self.embeddings = embeddings

    def __call__(self, batch: dict):
        import pyarrow as pa

        problems = list(batch["problem"])
        pictures, rows = [], []
        for row, (data, problem) in enumerate(zip(batch["bytes"], problems, strict=True)):
            if problem:
                continue
            try:
                pictures.append(images.decode(images.open_image(data)))
                rows.append(row)
            except images.InputError as error:
                problems[row] = f"skipped, {error}"
        size = len(problems)
        columns = {name: [None] * size for name in TAG_COLUMNS[1:]}
        vectors, thumbnails, classes = [None] * size, [None] * size, [None] * size
        if pictures:
            stacked = np.stack(pictures)
            embeddings, answers = self.predictor(stacked)
            for row, answer in zip(rows, answers, strict=True):
                for name in TAG_COLUMNS[1:]:
                    columns[name][row] = answer[name]
                classes[row] = answer["class_index"]
            if self.embeddings:  # the catalogue's columns, only when asked for
                for row, vector, picture in zip(rows, normalize(embeddings), stacked, strict=True):
                    vectors[row] = vector
                    thumbnails[row] = (picture[..., 0] * 255).round().astype(np.uint8).tobytes()
        table = {"id": list(batch["id"]), "path": list(batch["path"]), "title": list(batch["title"])}
        table |= columns | {"problem": problems}
        if self.embeddings:
            dimension = len(next(v for v in vectors if v is not None)) if pictures else 0
            table["class_index"] = classes
            table["thumbnail"] = pa.array(thumbnails, type=pa.binary())
            table["embedding"] = pa.array(vectors, type=pa.list_(pa.float32(), dimension) if dimension else None)
        return pa.table(table)


def kept(batch, columns: tuple, problems: bool = False):
    """The rows of a result batch that were tagged (or, with `problems`, those that were not), in `columns`."""
    import pyarrow.compute as pc

    mask = pc.not_equal(batch["problem"], "") if problems else pc.equal(batch["problem"], "")
    return batch.filter(mask).select(list(columns))


def local_tagger_text(batch):
    """`needs_review` written as the local tagger's CSV writes it, "True" or "False" (pyarrow writes "true")."""
    import pyarrow.compute as pc

    column = batch.schema.get_field_index("needs_review")
    return batch.set_column(column, "needs_review", pc.if_else(batch["needs_review"], "True", "False"))


def output_table(location: str, output_format: str, columns: list[str]):
    """The `columns` of an output (a Parquet or CSV dataset) as one pyarrow table, or None where there is none
    (no such folder, or a folder with no file in it)."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    files, path = filesystem(location)
    if files.get_file_info(path).type == fs.FileType.NotFound:
        return None
    dataset = ds.dataset(path, filesystem=files, format=output_format)
    return dataset.to_table(columns=columns) if dataset.files else None


def finished_ids(location: str, output_format: str) -> set[str]:
    """The ids already in the output, read from its id column alone."""
    table = output_table(location, output_format, ["id"])
    return set() if table is None else set(table["id"].to_pylist())


def write_problems(location: str, problems: list[str]) -> str:
    """`OUTPUT.problems.csv` beside the output, on the same filesystem: each file skipped and why; its name."""
    files, path = filesystem(location)
    path = path.rstrip("/") + ".problems.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "problem"])
    writer.writerows(problem.split(": ", 1) for problem in problems)
    with files.open_output_stream(path) as stream:
        stream.write(buffer.getvalue().encode())
    return f"{urllib.parse.urlsplit(location).scheme}://{path}" if catalogue.is_url(location) else path


def tagged_dataset(todo: list, files, model: Path, threshold: float, embeddings: bool, actors: int, actor_cpus: float):
    """The pipeline over `todo` [(id, path, title)]: read tasks, then the actor pool; its results materialized."""
    import pyarrow as pa
    import ray

    ids, paths, titles = (list(column) for column in zip(*todo, strict=True))
    table = pa.table({"id": ids, "path": paths, "title": titles})
    blocks = [table.slice(start, BLOCK_ROWS) for start in range(0, len(table), BLOCK_ROWS)]
    return (
        ray.data.from_arrow(blocks)
        .map_batches(read_bytes, fn_kwargs={"files": files}, batch_format="numpy")
        .map_batches(
            Tagger,
            fn_constructor_kwargs={"model": Path(model).read_bytes(), "threshold": threshold, "embeddings": embeddings},
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=actor_cpus,
            batch_size=BATCH,
            batch_format="numpy",
        )
        .materialize()
    )


def write_results(results, output: str, output_format: str, embeddings: str | None) -> tuple[int, list[str]]:
    """The tags (and the embeddings) of the materialized results written out; (how many tagged, problems)."""
    tags = results.map_batches(kept, fn_kwargs={"columns": TAG_COLUMNS}, batch_format="pyarrow")
    out_files, out_path = filesystem(output)
    if output_format == "csv":
        tags.map_batches(local_tagger_text, batch_format="pyarrow").write_csv(out_path, filesystem=out_files)
    else:
        tags.write_parquet(out_path, filesystem=out_files)
    if embeddings is not None:
        vectors = results.map_batches(kept, fn_kwargs={"columns": EMBEDDING_COLUMNS}, batch_format="pyarrow")
        vector_files, vector_path = filesystem(embeddings)
        vectors.write_parquet(vector_path, filesystem=vector_files)
    options = {"columns": ("path", "problem"), "problems": True}
    skipped = results.map_batches(kept, fn_kwargs=options, batch_format="pyarrow").take_all()
    return tags.count(), [f"{row['path']}: {row['problem']}" for row in skipped]


def run(
    source: str,
    output: str,
    model: Path,
    threshold: float,
    *,
    address: str | None = None,
    embeddings: str | None = None,
    output_format: str = "parquet",
    actors: int = 2,
    actor_cpus: float = 0.5,
    progress: bool = True,
) -> dict:
    """Tag every photo of `source` that `output` lacks on the Ray cluster at `address` (None: `RAY_ADDRESS`, a
    cluster started on this machine, else a new local one); return the counts and the problems."""
    import ray

    entries, problems, files = list_entries(source)
    done = finished_ids(output, output_format)
    todo = [entry for entry in entries if entry[0] not in done]
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    tagged = 0
    if todo:
        results = tagged_dataset(todo, files, model, threshold, embeddings is not None, actors, actor_cpus)
        tagged, skipped = write_results(results, output, output_format, embeddings)
        problems += skipped
    return {"tagged": tagged, "skipped": len(problems), "problems": problems, "output": output}


def summary(location: str, output_format: str) -> str:
    """`fmnist.tag`'s per-class summary of the whole output."""
    from fmnist import tag

    table = output_table(location, output_format, ["label", "needs_review"])
    return tag.summary([] if table is None else table.to_pylist())


def read_embeddings(location: str) -> tuple:
    """(ids, titles, labels, thumbnails, embeddings) of an embeddings output, for `catalogue.from_embeddings`."""
    table = output_table(location, "parquet", list(EMBEDDING_COLUMNS))
    if table is None:
        raise ValueError(f"no embeddings output at {location}: no such folder, or no file in it")
    if not len(table):
        raise ValueError(f"{location} holds no embeddings")
    thumbnails = np.frombuffer(b"".join(table["thumbnail"].to_pylist()), dtype=np.uint8).reshape(-1, 28, 28)
    vectors = np.asarray(table["embedding"].to_pylist(), dtype=np.float32)
    labels = np.asarray(table["class_index"].to_pylist())
    return table["id"].to_pylist(), table["title"].to_pylist(), labels, thumbnails, vectors
