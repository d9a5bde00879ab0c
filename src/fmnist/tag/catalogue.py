"""Build and change the API's catalogue for similar-item search (`fmnist.core.catalogue`) from a shop's photos.

    python -m fmnist.tag.catalogue [--model-dir models] build SOURCE   # a new catalogue in the model folder
    python -m fmnist.tag.catalogue add SOURCE                                         # add items, or replace ids
    python -m fmnist.tag.catalogue remove ID [ID ...]
    python -m fmnist.tag.catalogue info

SOURCE is a folder of product images (PNG, JPEG, WebP, ...; the id is the file's path below the folder
without its suffix, the title its name) or a CSV file of `id,path[,title]` rows (paths relative to the CSV),
or the embeddings output of `python -m fmnist.tag --ray` (docs/scale.md): a catalogue of millions embedded
on a cluster, then indexed here once. A file that cannot be read is reported by name and skipped; the
catalogue file is replaced in one step, so an error or an interruption leaves the previous one as it was.
The notebook writes the default catalogue, of the 10,000 Fashion-MNIST test images. The catalogue belongs to
the model that embedded it: it lives in that model's folder (`--model-dir`), unless `--catalogue` says otherwise.
"""

import argparse
import sys
from pathlib import Path

from fmnist.core import model_folder, sources
from fmnist.core.catalogue import Catalogue, from_source
from fmnist.core.inference import DEFAULT_MODEL_DIR
from fmnist.tag import ray_pipeline


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fmnist.tag.catalogue", description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="a model folder (%(default)s)")
    parser.add_argument("--catalogue", type=Path, help="the catalogue file, if not the model folder's")
    parser.add_argument("--model", type=Path, help="the TFLite model, if not the model folder's")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("build", "a new catalogue from SOURCE"), ("add", "add SOURCE's items (same id: replace)")):
        commands.add_parser(name, help=text).add_argument(
            "source", help="a folder of images, a CSV, or the embeddings output of `fmnist.tag --ray`"
        )
    commands.add_parser("remove", help="remove items by id").add_argument("ids", nargs="+")
    commands.add_parser("info", help="size and engine of the catalogue")
    return parser


def main(argv=None) -> int:
    """The command line: change the catalogue and say what it holds; exit status 1 on an error, which leaves
    the catalogue file unchanged."""
    arguments = parser().parse_args(argv)
    try:
        arguments.catalogue = arguments.catalogue or arguments.model_dir / model_folder.CATALOGUE
        if arguments.command == "info":
            print(describe(arguments.catalogue, Catalogue.load(arguments.catalogue)))
            return 0
        if arguments.command == "remove":
            catalogue = Catalogue.load(arguments.catalogue).without(arguments.ids)
        else:
            model = arguments.model or model_folder.model_path(arguments.model_dir)
            catalogue = source_items(arguments.source, model)
            if arguments.command == "add":
                catalogue = Catalogue.load(arguments.catalogue).merged(catalogue)
        catalogue = catalogue.indexed()  # the merged catalogue gets the ANN index, not the new items alone
        catalogue.save(arguments.catalogue)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        print(f"error: {error.args[0] if isinstance(error, KeyError) else error}", file=sys.stderr)
        return 1
    print(f"{arguments.catalogue}: {len(catalogue)} items, {catalogue.engine} search")
    return 0


def describe(path: Path, catalogue: Catalogue) -> str:
    return f"{path}: {len(catalogue)} items, {catalogue.vectors.shape[1]}-d embeddings, {catalogue.engine} search"


def embeddings_output(source: str) -> bool:
    """Whether `source` is the embeddings output of `fmnist.tag --ray` (a Parquet dataset, local or a URL)."""
    return sources.is_url(source) or (Path(source).is_dir() and any(Path(source).glob("*.parquet")))


def source_items(source: str, model_path: Path) -> Catalogue:
    """The items of a folder or CSV of images, embedded here, or of a Ray run's embeddings output as they are;
    each photo skipped is named on stderr."""
    if embeddings_output(source):
        return ray_pipeline.read_embeddings(source, model_folder.read_spec(model_path))
    problems = []
    try:
        return from_source(source, problems, model_path)
    finally:
        for problem in problems:
            print(problem, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
