"""Tag, and on request embed, a whole catalogue on a Ray cluster: `python -m fmnist.tag SOURCE --ray [ADDRESS]`.

Ray Data runs the pipeline that its batch-inference guide describes: list → read → a predictor class →
`map_batches` → write. The source is listed as every tool lists it (`fmnist.core.sources`). The photos' bytes
are read by tasks, through pyarrow's filesystems (a local or shared folder, or object storage:
`s3://bucket/prefix/`). A pool of actors decodes, converts and classifies them (`map_batches` with an
`ActorPoolStrategy`): each actor loads the exported TFLite model and the review rule once, with LiteRT on
one thread. Each actor asks for a fraction of a CPU, so that the read and write tasks find one; on a cluster
whose actors could leave no node a whole CPU, the reads run inside the actors instead (`read_cpus`). The tags are
written as Parquet, or CSV on request, in the local tagger's columns (`fmnist.tag.output`) and with the same
values. The embeddings go to a second Parquet output, which `python -m fmnist.tag.catalogue build` indexes. A
file that cannot be read or decoded is named, with the reason, in `OUTPUT.problems.csv`. A rerun skips the ids
already in the output. docs/scale.md says how to run it on a real cluster.
"""

import csv
import io
import math
import urllib.parse
from pathlib import Path

import numpy as np

from fmnist.core import catalogue, sources
from fmnist.core.inference import Predictor
from fmnist.core.model_folder import Spec
from fmnist.core.review import ReviewRule
from fmnist.core.search import normalize
from fmnist.tag import output

EMBEDDING_COLUMNS = ("id", "title", "class_index", "thumbnail", "embedding")
BLOCK_ROWS = 1000  # photos per block of the dataset: the unit a read task or an actor takes at a time
BATCH = 256  # photos per call of an actor
DEFAULT_FORMAT, DEFAULT_ACTORS = "parquet", 2


def listed(source: str) -> tuple[list[sources.Item], list[str]]:
    """`sources.list_source`, with local paths made absolute: the read tasks may run in another folder."""
    items, problems = sources.list_source(source)
    if not sources.is_url(source):
        items = [item._replace(path=str(Path(item.path).resolve())) for item in items]
    return items, problems


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
    """An actor: the model and the review rule loaded once, then batches of photos decoded and tagged."""

    def __init__(self, model: bytes, rule: ReviewRule, embeddings: bool):
        import tempfile

        self.folder = tempfile.TemporaryDirectory()  # LiteRT reads a file; removed with the actor
        path = Path(self.folder.name, "model.tflite")
        path.write_bytes(model)
        self.predictor = Predictor(path, rule, num_threads=1)  # one thread: the pool is the parallelism
        self.embeddings = embeddings

    def __call__(self, batch: dict):
        """One row per tagged photo, in the tags' columns (and the catalogue's, when asked for), then one row
        per photo that was not, its problem in the `problem` column (empty on a tagged row)."""
        import pyarrow as pa

        items = [sources.Item(*fields) for fields in zip(batch["id"], batch["path"], batch["title"], strict=True)]
        results = [
            sources.Decoded(problem=problem) if problem else sources.decode_photo(data, self.predictor.spec)
            for data, problem in zip(batch["bytes"], batch["problem"], strict=True)
        ]
        problems = []
        kept, pictures = sources.decoded_items(items, results, problems, self.predictor.spec.shape)
        embeddings, answers = self.predictor(pictures) if kept else (None, [])
        table = tag_columns(kept, answers, problems)
        if self.embeddings:  # the catalogue's columns, only when asked for
            table |= embedding_columns(answers, embeddings, pictures, len(problems))
        return pa.table(table)


def tag_columns(kept: list[sources.Item], answers: list[dict], problems: list[str]) -> dict:
    """The tags of the `kept` items, typed as `output.arrow_schema` says, their titles and an empty problem;
    then a row of each problem."""
    import pyarrow as pa

    tags = [output.from_answer(item.id, answer) for item, answer in zip(kept, answers, strict=True)]
    padding = [None] * len(problems)
    columns = {
        field.name: pa.array([*(getattr(tag, field.name) for tag in tags), *padding], field.type)
        for field in output.arrow_schema()
    }
    columns["title"] = pa.array([*(item.title for item in kept), *padding], pa.string())
    columns["problem"] = pa.array([""] * len(kept) + problems, pa.string())
    return columns


def embedding_columns(answers: list[dict], embeddings, pictures: np.ndarray, problems: int) -> dict:
    """The catalogue's columns of the tagged rows (`EMBEDDING_COLUMNS` beside id and title), then empty rows."""
    import pyarrow as pa

    padding = [None] * problems
    if not answers:
        return {"class_index": padding, "thumbnail": pa.array(padding, pa.binary()), "embedding": padding}
    vectors = normalize(embeddings)
    return {
        "class_index": [answer["class_index"] for answer in answers] + padding,
        "thumbnail": pa.array([t.tobytes() for t in catalogue.thumbnails(pictures)] + padding, pa.binary()),
        "embedding": pa.array([*vectors, *padding], pa.list_(pa.float32(), vectors.shape[1])),
    }


def rows_of(batch, columns: tuple, problems: bool = False):
    """The rows of a result batch that were tagged (or, with `problems`, those that were not), in `columns`."""
    import pyarrow.compute as pc

    mask = pc.not_equal(batch["problem"], "") if problems else pc.equal(batch["problem"], "")
    return batch.filter(mask).select(list(columns))


def output_dataset(location: str, output_format: str):
    """An output (a Parquet or CSV dataset) as a pyarrow dataset, or None where there is none (no such folder,
    or a folder with no file in it)."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    files, path = sources.filesystem(location)
    if files.get_file_info(path).type == fs.FileType.NotFound:
        return None
    dataset = ds.dataset(path, filesystem=files, format=output_format)
    return dataset if dataset.files else None


def output_table(location: str, output_format: str, columns: list[str]):
    """The `columns` of an output as one pyarrow table, or None where there is none (`output_dataset`)."""
    dataset = output_dataset(location, output_format)
    return None if dataset is None else dataset.to_table(columns=columns)


def finished_ids(location: str, output_format: str) -> set[str]:
    """The ids already in the output. An output with a file in other columns (`output.check_columns`: another
    file, or tags written before the image checks), or that does not read as `output_format`, is left as it is,
    with an error."""
    import pyarrow as pa

    try:
        dataset = output_dataset(location, output_format)
        if dataset is None:
            return set()
        for fragment in dataset.get_fragments():  # the dataset's schema is its first file's
            output.check_columns(fragment.physical_schema.names, location)
        return set(dataset.to_table(columns=["id"])["id"].to_pylist())
    except pa.ArrowInvalid as error:
        raise ValueError(
            f"{location} does not read as {output_format} tags ({error}): move it away or choose another output with -o"
        ) from None


def write_problems(location: str, problems: list[str]) -> str:
    """`OUTPUT.problems.csv` beside the output, on the same filesystem: each file skipped and why; its name."""
    files, path = sources.filesystem(location)
    path = path.rstrip("/") + ".problems.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "problem"])
    writer.writerows(problem.split(": ", 1) for problem in problems)
    with files.open_output_stream(path) as stream:
        stream.write(buffer.getvalue().encode())
    return f"{urllib.parse.urlsplit(location).scheme}://{path}" if sources.is_url(location) else path


def read_cpus(node_cpus: list[float], actors: int, actor_cpus: float) -> float:
    """The CPUs a read task asks for: a whole one while, wherever Ray places the actors, some node keeps a whole
    CPU beside them; else the actors' own share, on which Ray fuses the reads into the actors, so that the pipeline
    needs no CPU beyond theirs. A read task that no node has room for would wait for ever, and the run with it."""
    # The fewest actors that can leave a node less than a whole CPU (none, on a node of less than one CPU).
    crowding = sum(math.floor((cpus - 1) / actor_cpus + 1e-9) + 1 for cpus in node_cpus if cpus >= 1)
    return 1.0 if actors < crowding else actor_cpus


def node_cpus() -> list[float]:
    """The CPUs of each live node of the cluster that this process is connected to."""
    import ray

    return [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]


def tagged_dataset(todo: list, files, model: Path, rule: ReviewRule, embeddings: bool, actors: int, actor_cpus: float):
    """The pipeline over `todo` [sources.Item]: read tasks, then the actor pool; its results materialized."""
    import pyarrow as pa
    import ray

    table = pa.Table.from_pylist([item._asdict() for item in todo])
    blocks = [table.slice(start, BLOCK_ROWS) for start in range(0, len(table), BLOCK_ROWS)]
    reading = read_cpus(node_cpus(), actors, actor_cpus)
    return (
        ray.data.from_arrow(blocks)
        .map_batches(read_bytes, fn_kwargs={"files": files}, num_cpus=reading, batch_format="numpy")
        .map_batches(
            Tagger,
            fn_constructor_kwargs={"model": Path(model).read_bytes(), "rule": rule, "embeddings": embeddings},
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=actor_cpus,
            batch_size=BATCH,
            batch_format="numpy",
        )
        .materialize()
    )


def write_results(results, location: str, output_format: str, embeddings: str | None) -> tuple[int, list[str]]:
    """The tags (and the embeddings) of the materialized results written out; (how many tagged, problems)."""
    tags = results.map_batches(rows_of, fn_kwargs={"columns": output.COLUMNS}, batch_format="pyarrow")
    out_files, out_path = sources.filesystem(location)
    if output_format == "csv":
        tags.map_batches(output.as_csv_text, batch_format="pyarrow").write_csv(out_path, filesystem=out_files)
    else:
        tags.write_parquet(out_path, filesystem=out_files)
    if embeddings is not None:
        vectors = results.map_batches(rows_of, fn_kwargs={"columns": EMBEDDING_COLUMNS}, batch_format="pyarrow")
        vector_files, vector_path = sources.filesystem(embeddings)
        vectors.write_parquet(vector_path, filesystem=vector_files)
    options = {"columns": ("problem",), "problems": True}
    skipped = results.map_batches(rows_of, fn_kwargs=options, batch_format="pyarrow").take_all()
    return tags.count(), [row["problem"] for row in skipped]


def run(
    source: str,
    location: str,
    model: Path,
    rule: ReviewRule,
    *,
    address: str | None = None,
    embeddings: str | None = None,
    output_format: str = DEFAULT_FORMAT,
    actors: int = DEFAULT_ACTORS,
    actor_cpus: float = 0.5,
    progress: bool = True,
) -> dict:
    """Tag every photo of `source` that the output at `location` lacks on the Ray cluster at `address` (None:
    `RAY_ADDRESS`, a cluster started on this machine, else a new local one); return the counts and the problems."""
    import ray

    items, problems = listed(source)
    files, _ = sources.filesystem(source)
    done = finished_ids(location, output_format)
    todo = [item for item in items if item.id not in done]
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    tagged = 0
    if todo:
        results = tagged_dataset(todo, files, model, rule, embeddings is not None, actors, actor_cpus)
        tagged, skipped = write_results(results, location, output_format, embeddings)
        problems += skipped
    return {"tagged": tagged, "skipped": len(problems), "problems": problems, "output": location}


def summary(location: str, output_format: str, labels) -> str:
    """The local tagger's per-class summary (`output.summary`, the model's `labels`) of the whole output."""
    table = output_table(location, output_format, ["label", "needs_review"])
    if table is None:
        return output.summary([], labels)
    pairs = zip(table["label"].to_pylist(), table["needs_review"].to_pylist(), strict=True)
    return output.summary(pairs, labels)


def read_embeddings(location: str, spec: Spec) -> catalogue.Catalogue:
    """The catalogue of an embeddings output, as it is: its items are embedded already, by the model that
    `spec` describes."""
    table = output_table(location, "parquet", list(EMBEDDING_COLUMNS))
    if table is None:
        raise ValueError(f"no embeddings output at {location}: no such folder, or no file in it")
    if not len(table):
        raise ValueError(f"{location} holds no embeddings")
    shape = spec.shape if spec.channels == 3 else spec.shape[:2]
    thumbnails = np.frombuffer(b"".join(table["thumbnail"].to_pylist()), dtype=np.uint8).reshape(-1, *shape)
    return catalogue.from_embeddings(
        ids=table["id"].to_pylist(),
        titles=table["title"].to_pylist(),
        labels=np.asarray(table["class_index"].to_pylist()),
        thumbnails=thumbnails,
        embeddings=np.asarray(table["embedding"].to_pylist(), dtype=np.float32),
        classes=spec.labels,
    )
