"""The notebook's own cells, run by the tests: the recipe is written out there, and must match the package's."""

import json

from tests.committed import ROOT

NOTEBOOK = ROOT / "Fashion_MNIST_model_training.ipynb"
PARAMETERS = "import os\n\nSEED = "


def cell_source(start: str) -> str:
    """The source of the one code cell that starts with `start`."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    (found,) = [source for source in sources if source.startswith(start)]
    return found


def run_cells(*starts: str, **names) -> dict:
    """Run the parameters cell, then the cells that start with `starts`, in a namespace holding `names`."""
    namespace = dict(names)
    for start in (PARAMETERS, *starts):
        exec(cell_source(start), namespace)
    return namespace
