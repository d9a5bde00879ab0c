"""Tag a shop's product photos in bulk: a category for each, and whether a person should check it.

    python -m fmnist.tag FOLDER_OR_CSV [--target-accuracy 0.995] [-o tags.csv] [--workers N]

The source is read as `fmnist.catalogue` reads it: a folder of images (the id is the path below the folder)
or a CSV of `id,path[,title]` rows. Each photo goes through the API's preprocessing and the exported,
calibrated model; a row of tags.csv holds its id, label, calibrated confidence, `needs_review` (the
margin over the runner-up is below the threshold the notebook chose on the validation split for the target
accuracy), the runner-up class and that margin. A file that cannot be read is named and skipped. Rows are
written batch by batch, so an interrupted run resumes where it stopped: ids already in the output are not
tagged again (their `needs_review` is decided again, for the target of the new run). The photos are read,
decoded and converted in `--workers` processes (one per core by default), in order; the model runs here.
"""

import argparse
import collections
import contextlib
import csv
import io
import itertools
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fmnist import CLASS_NAMES, catalogue, images
from fmnist.files import write_atomically
from fmnist.inference import DEFAULT_MODEL, DEFAULT_REVIEW, DEFAULT_TARGET, Predictor, load_threshold, needs_review

COLUMNS = ("id", "label", "confidence", "needs_review", "runner_up", "margin")
BATCH = 256
CHUNK = 16  # photos handed to a decoding process at a time


def finished_rows(output: Path, threshold: float) -> list[dict]:
    """The complete rows of an earlier run's output, their `needs_review` decided again by `threshold` (the
    target accuracy may have changed); a row cut short by an interruption is dropped. The file is rewritten
    with exactly these rows, atomically."""
    if not output.exists():
        return []
    with open(output, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if complete(row)]
    for row in rows:
        row["needs_review"] = needs_review(float(row["margin"]), threshold)
    with write_atomically(output) as file:
        file.write(csv_text(rows, header=True).encode())
    return rows


def complete(row: dict) -> bool:
    """Whether a row read back from the output holds every column, whole."""
    try:
        return None not in row.values() and row["runner_up"] in CLASS_NAMES and float(row["margin"]) >= 0
    except (KeyError, ValueError):
        return False


def csv_text(rows: list[dict], header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def tag_rows(ids: list[str], pictures: np.ndarray, predictor: Predictor) -> list[dict]:
    """One output row per image."""
    _, answers = predictor(pictures)
    return [
        {"id": item_id} | {key: answer[key] for key in COLUMNS[1:]}
        for item_id, answer in zip(ids, answers, strict=True)
    ]


def read_picture(path: Path):
    """A photo's model input (28, 28, 1), or why it cannot be read: what each decoding process does."""
    try:
        return images.decode(images.open_image(path.read_bytes()))
    except (OSError, images.InputError) as error:
        return f"skipped, {error}"


@contextlib.contextmanager
def decoded(paths: list[Path], workers: int):
    """`read_picture` of each path, in order: in `workers` processes, spawned (a process whose interpreter runs
    threads is never forked), or in this one when `workers` is 1."""
    if workers <= 1:
        yield map(read_picture, paths)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield pool.imap(read_picture, paths, chunksize=CHUNK)


def tag(
    source: Path, output: Path, model: Path, threshold: float, progress=True, workers: int = 1
) -> tuple[list[dict], list[str]]:
    """Tag every new image of `source` into `output`, decoding in `workers` processes; return (all rows of
    the output, problems)."""
    entries, problems = catalogue.list_source(source)
    rows = finished_rows(output, threshold)
    done = {row["id"] for row in rows}
    todo = [(item_id, path) for item_id, path, _ in entries if item_id not in done]
    predictor = Predictor(model, threshold, num_threads=2)
    with (
        decoded([path for _, path in todo], workers) as results,
        open(output, "a", newline="", encoding="utf-8") as file,
    ):
        if file.tell() == 0:
            file.write(csv_text([], header=True))
        bar = tqdm(total=len(todo), unit="image", disable=not progress, file=sys.stderr)
        for start in range(0, len(todo), BATCH):
            ids, pictures = [], []
            batch = todo[start : start + BATCH]
            for (item_id, path), picture in zip(batch, itertools.islice(results, len(batch)), strict=True):
                if isinstance(picture, str):
                    problems.append(f"{path}: {picture}")
                else:
                    pictures.append(picture)
                    ids.append(item_id)
            if ids:
                tagged = tag_rows(ids, np.stack(pictures), predictor)
                file.write(csv_text(tagged))
                file.flush()
                rows.extend(tagged)
            bar.update(len(batch))
        bar.close()
    return rows, problems


def summary(rows: list[dict]) -> str:
    """Per class: how many images are tagged automatically and how many wait for review."""
    counts = collections.Counter((row["label"], str(row["needs_review"]) == "True") for row in rows)
    lines = [f"{'class':<12} {'auto-tagged':>11} {'to review':>9}"]
    for name in CLASS_NAMES:
        lines.append(f"{name:<12} {counts[name, False]:>11} {counts[name, True]:>9}")
    review = sum(count for (_, needs), count in counts.items() if needs)
    lines.append(f"{'all':<12} {len(rows) - review:>11} {review:>9}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """The command line: tag, print the problems and the summary; exit status 2 when nothing could be done."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a folder of images or a CSV of id,path[,title] rows (with --ray: or a URL)")
    parser.add_argument("--target-accuracy", default=DEFAULT_TARGET, help="accuracy wanted of the automatic tags")
    parser.add_argument("-o", "--output", help="default: tags.csv, with --ray the folder tags")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_REVIEW)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes (1: none)")
    on_ray = parser.add_argument_group("on a Ray cluster (docs/scale.md)")
    on_ray.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help="default: RAY_ADDRESS or a local one")
    on_ray.add_argument("--embeddings", metavar="FOLDER", help="also write each photo's embedding there (Parquet)")
    on_ray.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="of the tags")
    on_ray.add_argument("--actors", type=int, default=2, help="classifying actors, each on half a CPU")
    arguments = parser.parse_args(argv)
    if arguments.ray is None and (arguments.embeddings or arguments.format != "parquet" or arguments.actors != 2):
        parser.error("--embeddings, --format and --actors need --ray")
    try:
        threshold = load_threshold(arguments.thresholds, arguments.target_accuracy)
        if arguments.ray is not None:
            return on_cluster(arguments, threshold)
        output = Path(arguments.output or "tags.csv")
        rows, problems = tag(
            Path(arguments.source), output, arguments.model, threshold, not arguments.quiet, arguments.workers
        )
    except (OSError, ValueError, RuntimeError) as error:
        print(f"fmnist.tag: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    print(summary(rows))
    print(f"wrote {output}: {len(rows)} images, {len(problems)} skipped")
    return 0


def on_cluster(arguments, threshold: float) -> int:
    """`main` on Ray: the tags in a Parquet (or CSV) folder, the problems in a file beside it."""
    from fmnist import cluster

    output = arguments.output or "tags"
    result = cluster.run(
        arguments.source,
        output,
        arguments.model,
        threshold,
        address=arguments.ray or None,
        embeddings=arguments.embeddings,
        output_format=arguments.format,
        actors=arguments.actors,
        progress=not arguments.quiet,
    )
    problems_file = cluster.write_problems(output, result["problems"])
    for problem in result["problems"]:
        print(problem, file=sys.stderr)
    print(cluster.summary(output, arguments.format))
    print(f"wrote {output}: {result['tagged']} images tagged, {result['skipped']} skipped ({problems_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
