"""The tagger's output: one `Tag` per photo, in the same columns from the local tagger and from Ray.

A tag's values keep their types in the code (`needs_review` is a bool); only the CSV text spells them, as
Python's `csv` module does ("True", "False"). Parquet keeps them typed, in the schema `arrow_schema` gives.
"""

import collections
import csv
import io
from collections.abc import Iterable
from typing import NamedTuple

from fmnist import CLASS_NAMES
from fmnist.core.review import ReviewRule


class Tag(NamedTuple):
    """One photo's tags: the class, its calibrated confidence, whether a person should check it, the
    runner-up class, the margin over it, and the image checks' verdict (`fmnist.core.review.image_checks`)."""

    id: str
    label: str
    confidence: float
    needs_review: bool
    runner_up: str
    margin: float
    image_check: str


COLUMNS = Tag._fields


def check_columns(columns, location) -> None:
    """Refuse an existing output at `location` whose `columns` are not `COLUMNS`: another file, or tags written
    before the image checks. The caller leaves it as it is."""
    if list(columns) != list(COLUMNS):
        raise ValueError(
            f"{location} is not a tags output in this tagger's columns ({', '.join(COLUMNS)}), perhaps one written "
            "before the image checks: move it away or choose another output with -o"
        )


def from_answer(item_id: str, answer: dict) -> Tag:
    """The tag of a photo from its answer (`fmnist.core.inference.describe`)."""
    return Tag(item_id, *(answer[name] for name in COLUMNS[1:]))


def csv_text(tags: Iterable[Tag], header: bool = False) -> str:
    """The CSV lines of `tags`, after the header line if asked for."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(tags)
    return buffer.getvalue()


def parse_row(row: dict, rule: ReviewRule, labels=CLASS_NAMES) -> Tag | None:
    """A tag read back from a CSV row, its `needs_review` decided again by `rule`; None for a row cut short by
    an interruption, or one that names a class the model (`labels`) does not have."""
    try:
        if None in row.values() or row["label"] not in labels or row["runner_up"] not in labels:
            return None
        confidence, margin, image_check = float(row["confidence"]), float(row["margin"]), row["image_check"]
    except (KeyError, ValueError):
        return None
    if margin < 0:
        return None
    review = bool(rule.needs_review(margin, image_check))
    return Tag(row["id"], row["label"], confidence, review, row["runner_up"], margin, image_check)


def arrow_schema():
    """The pyarrow schema of the tags, from `Tag`'s types: what Ray writes as Parquet."""
    import pyarrow as pa

    types = {str: pa.string(), float: pa.float64(), bool: pa.bool_()}
    return pa.schema([(name, types[kind]) for name, kind in Tag.__annotations__.items()])


def as_csv_text(table):
    """A pyarrow table of tags with `needs_review` spelled as `csv_text` spells it: pyarrow would write "true"."""
    import pyarrow.compute as pc

    column = table.schema.get_field_index("needs_review")
    spelled = pc.if_else(table["needs_review"], str(True), str(False))
    return table.set_column(column, "needs_review", spelled)


def summary(tags: Iterable[tuple[str, bool]], labels=CLASS_NAMES) -> str:
    """Per class of the model (`labels`): how many images are tagged automatically and how many wait for
    review, from (label, needs_review) pairs."""
    counts = collections.Counter(tags)
    width = max(12, *map(len, labels))
    lines = [f"{'class':<{width}} {'auto-tagged':>11} {'to review':>9}"]
    for name in labels:
        lines.append(f"{name:<{width}} {counts[name, False]:>11} {counts[name, True]:>9}")
    review = sum(count for (_, needs), count in counts.items() if needs)
    total = sum(counts.values())
    lines.append(f"{'all':<{width}} {total - review:>11} {review:>9}")
    return "\n".join(lines)
