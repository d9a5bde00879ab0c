"""The notebook's recipe as a module: `python -m fmnist.notebook_recipe` writes `src/fmnist/recipe.py`.

The notebook defines the training recipe, and a learner edits it there: its cells tagged `recipe` hold the
settings, the imports, the augmentation (`random_shift`), the network (`build_model`) and the optimizer and
loss (`compile_model`). This module writes those cells' imports, UPPER-CASE settings and functions, and not
the statements that run them, into `fmnist.recipe`. The benchmarks, multi-worker training and the tests import
that module, so they train what the notebook trains. `make run` writes it before it executes the notebook,
and a test fails where it is stale.
"""

import ast
import json
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "Fashion_MNIST_model_training.ipynb"
MODULE = Path(__file__).with_name("recipe.py")
HEADER = '''"""The training recipe, generated from the notebook's cells tagged `recipe` by `python -m
fmnist.notebook_recipe` (`make run` runs it). Do not edit: edit the notebook, Fashion_MNIST_model_training.ipynb."""
'''


def kept(node: ast.stmt) -> bool:
    """Imports, functions and UPPER-CASE settings: what defines the recipe, not what runs it."""
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef):
        return True
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)


def recipe_source(notebook=NOTEBOOK) -> str:
    """The text of `fmnist.recipe` for `notebook`: imports, then settings, then functions, in cell order."""
    imports, settings, functions = [], [], []
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code" or "recipe" not in cell["metadata"].get("tags", []):
            continue
        source = "".join(cell["source"])
        for node in filter(kept, ast.parse(source).body):
            kind = imports if isinstance(node, ast.Import | ast.ImportFrom) else settings
            (functions if isinstance(node, ast.FunctionDef) else kind).append(ast.get_source_segment(source, node))
    return "\n".join([HEADER, *imports, "", *settings, *("\n\n" + function for function in functions)]) + "\n"


def main(argv=None) -> int:
    notebook = Path((argv or sys.argv[1:] or [NOTEBOOK])[0])
    MODULE.write_text(recipe_source(notebook), encoding="utf-8")
    print(f"wrote {MODULE.name} from the recipe cells of {notebook.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
