"""The lesson's shape (issue 52): a learner reaches training soon, in short cells."""

import json

from tests.committed import NOTEBOOK


def test_the_lesson_reaches_fit_soon_in_short_cells():
    """The lesson's limits (issue 52): at most 25 code cells in part one, `fit` at most the 12th code cell, at most
    75 lines of code before it (blank lines aside), and no code cell of the notebook over 20 lines."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    part_two = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Part two"))
    code = [
        [line for line in "".join(c["source"]).splitlines() if line.strip()] for c in cells if c["cell_type"] == "code"
    ]
    part_one = [c for c in cells[:part_two] if c["cell_type"] == "code"]
    fit = next(i for i, lines in enumerate(code) if any(".fit(" in line for line in lines))
    assert len(part_one) <= 25 and fit < 12
    assert sum(map(len, code[:fit])) <= 75
    assert max(map(len, code)) <= 20
