"""Tag a shop's product photos on this machine: a category for each, and whether a person should check it.

The photos are listed as every tool lists them (`fmnist.core.sources`), read, decoded and converted in
`workers` processes (one per core by default), in order; the model runs here. Rows are written batch by
batch, so an interrupted run resumes where it stopped: ids already in the output are not tagged again (their
`needs_review` is decided again, for the target of the new run).
"""

import contextlib
import csv
import functools
import itertools
import multiprocessing
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fmnist.core import sources
from fmnist.core.files import write_atomically
from fmnist.core.inference import Predictor
from fmnist.core.review import ReviewRule
from fmnist.tag.output import Tag, check_columns, csv_text, from_answer, parse_row

BATCH = 256
CHUNK = 16  # photos handed to a decoding process at a time


def rewrite_complete_rows(output: Path, rule: ReviewRule, labels) -> list[Tag]:
    """Rewrite an earlier run's output, atomically, with its complete rows alone, their `needs_review` decided
    again by `rule` (the target accuracy may have changed); a row cut short by an interruption, or that names a
    class the model (`labels`) lacks, is dropped (and tagged again). Return those rows; none when there is no
    output yet. A file in other columns (another file, or tags written before the image checks) is left as it
    is, with an error."""
    if not output.exists():
        return []
    with open(output, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames is not None:
            check_columns(reader.fieldnames, output)
        tags = [tag for tag in (parse_row(row, rule, labels) for row in reader) if tag is not None]
    with write_atomically(output) as file:
        file.write(csv_text(tags, header=True).encode())
    return tags


def tag_rows(ids: list[str], pictures: np.ndarray, predictor: Predictor) -> list[Tag]:
    """One tag per image."""
    _, answers = predictor(pictures)
    return [from_answer(item_id, answer) for item_id, answer in zip(ids, answers, strict=True)]


@contextlib.contextmanager
def decoded(paths: list[str], workers: int, spec):
    """`sources.read_photo` of each path for the model `spec` describes, in order: in `workers` processes,
    spawned (a process whose interpreter runs threads is never forked), or in this one when `workers` is 1."""
    read = functools.partial(sources.read_photo, spec=spec)
    if workers <= 1:
        yield map(read, paths)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield pool.imap(read, paths, chunksize=CHUNK)


def tag(
    source: Path, output: Path, model: Path, rule: ReviewRule, progress=True, workers: int = 1
) -> tuple[list[Tag], list[str]]:
    """Tag every new image of `source` into `output`, decoding in `workers` processes; return (all rows of
    the output, problems)."""
    if sources.is_url(source):
        raise ValueError(f"{source} is in object storage: tag it on Ray (--ray)")
    items, problems = sources.list_source(source)
    predictor = Predictor(model, rule, num_threads=2)
    tags = rewrite_complete_rows(output, rule, predictor.spec.labels)
    done = {tag.id for tag in tags}
    todo = [item for item in items if item.id not in done]
    with (
        decoded([item.path for item in todo], workers, predictor.spec) as results,
        open(output, "a", newline="", encoding="utf-8") as file,
    ):
        if file.tell() == 0:
            file.write(csv_text([], header=True))
        bar = tqdm(total=len(todo), unit="image", disable=not progress, file=sys.stderr)
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            kept, pictures = sources.decoded_items(
                batch, itertools.islice(results, len(batch)), problems, predictor.spec.shape
            )
            if kept:
                tagged = tag_rows([item.id for item in kept], pictures, predictor)
                file.write(csv_text(tagged))
                file.flush()
                tags.extend(tagged)
            bar.update(len(batch))
        bar.close()
    return tags, problems
