"""The notebook's recipe as a module: `python -m fmnist.notebook_recipe NOTEBOOK MODULE` (`make recipe`).

The notebook defines the training recipe, and a learner edits it there: its cells tagged `recipe` hold the
settings, the imports, the augmentation (`build_augmentation`), the network (`build_model`) and the optimizer
and loss (`compile_model`). This writes those cells' UPPER-CASE settings and functions, with the imports they
use, and not the statements that run them, into `fmnist.recipe`. The benchmarks, multi-worker training and
the tests import that module, so they train what the notebook trains. `make run` writes it before it executes
the notebook, and a test fails where it is stale.
"""

import ast
import json
import sys
from pathlib import Path

HEADER = '''"""The training recipe, generated from the notebook's cells tagged `recipe` by `make recipe`.

Do not edit: edit the notebook, Fashion_MNIST_model_training.ipynb."""
'''


def is_definition(node: ast.stmt) -> bool:
    """Functions and UPPER-CASE settings: what defines the recipe, not what runs it."""
    if isinstance(node, ast.FunctionDef):
        return True
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)


def used_imports(imports: list[ast.Import | ast.ImportFrom], definitions: list[ast.stmt]) -> list[str]:
    """The import statements, each cut down to the names that the definitions use; unused ones dropped."""
    used = {node.id for tree in definitions for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.value.id for tree in definitions for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and isinstance(node.value, ast.Name)}  # fmt: skip
    kept = []
    for statement in imports:
        names = [alias for alias in statement.names if (alias.asname or alias.name).split(".")[0] in used]
        if names:
            statement.names = names
            kept.append(ast.unparse(statement))
    return kept


def recipe_source(notebook: Path) -> str:
    """The text of `fmnist.recipe` for `notebook`: imports, then settings, then functions, in cell order."""
    imports, settings, functions = [], [], []
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code" or "recipe" not in cell["metadata"].get("tags", []):
            continue
        source = "".join(cell["source"])
        for node in ast.parse(source).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                imports.append(node)
            elif is_definition(node):
                kind = functions if isinstance(node, ast.FunctionDef) else settings
                kind.append((node, ast.get_source_segment(source, node)))
    lines = used_imports(imports, [node for node, _ in settings + functions])
    groups = {"stdlib": [], "third-party": [], "fmnist": []}  # ruff's (isort's) sections, in its order
    for line in lines:
        package = line.split()[1].split(".")[0]
        section = "stdlib" if package in sys.stdlib_module_names else "fmnist" if package == "fmnist" else "third-party"
        groups[section].append(line)
    imports = "\n\n".join("\n".join(group) for group in groups.values() if group)
    body = [text for _, text in settings] + ["\n\n" + text for _, text in functions]
    return "\n".join([HEADER, imports, "", *body]) + "\n"


def main(argv=None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 2:
        print("usage: python -m fmnist.notebook_recipe NOTEBOOK MODULE", file=sys.stderr)
        return 2
    notebook, module = map(Path, arguments)
    module.write_text(recipe_source(notebook), encoding="utf-8")
    print(f"wrote {module} from the recipe cells of {notebook.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
