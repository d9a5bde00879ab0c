"""Tag a shop's product photos in bulk: a category for each, and whether a person should check it.

    python -m fmnist.tag FOLDER_OR_CSV [--target-accuracy 0.995] [-o tags.csv] [--workers N] [--model-dir DIR]
    python -m fmnist.tag SOURCE --ray [ADDRESS] [-o tags] [--embeddings FOLDER] [--format csv] [--actors 2]

The source is a folder of images (the id is the path below the folder) or a CSV of `id,path[,title]` rows,
listed as the catalogue lists it (`fmnist.core.sources`); on Ray, either may be in object storage. Each photo
goes through the API's preprocessing and the exported, calibrated model of a model folder (`models/`, which
`make run` writes, unless `--model-dir` names another: `fmnist.core.model_folder`); a row of tags.csv holds its id,
label, calibrated confidence, `needs_review` (the margin over the runner-up is below the threshold the
notebook chose on the validation split for the target accuracy, or the photo fails an image check), the
runner-up class, that margin and the image checks' verdict: `ok`, or the checks failed, `cut_off` (the image's
edge cuts the garment) or `grain` (`fmnist.tag.output`, `fmnist.core.review`). A file that cannot be read is
named and skipped. An interrupted run resumes where it stopped (`fmnist.tag.local`). With `--ray`, the tags go
to a Parquet (or CSV) folder on a Ray cluster (`fmnist.tag.ray_pipeline`, docs/scale.md).
"""

import argparse
import os
import sys
from pathlib import Path

from fmnist.core import model_folder
from fmnist.core.inference import DEFAULT_MODEL_DIR, DEFAULT_TARGET
from fmnist.core.review import ReviewRule, load_review_rule
from fmnist.tag import local, ray_pipeline
from fmnist.tag.output import summary

# The options that only the Ray pipeline takes, by flag, and the keyword of `ray_pipeline.run` each sets.
RAY_ONLY = {"embeddings": "embeddings", "format": "output_format", "actors": "actors"}


def parser() -> argparse.ArgumentParser:
    """The command line's options; those only Ray takes are absent from the parsed arguments unless given."""
    parser = argparse.ArgumentParser(prog="python -m fmnist.tag", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a folder of images or a CSV of id,path[,title] rows (with --ray: or a URL)")
    parser.add_argument("--target-accuracy", default=DEFAULT_TARGET, help="accuracy wanted of the automatic tags")
    parser.add_argument("-o", "--output", help="default: tags.csv, with --ray the folder tags")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="a model folder (%(default)s)")
    parser.add_argument("--model", type=Path, help="the TFLite model, if not the model folder's")
    parser.add_argument("--thresholds", type=Path, help="the review thresholds, if not the model folder's")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes (1: none)")
    on_ray = parser.add_argument_group("on a Ray cluster (docs/scale.md)")
    on_ray.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help="default: RAY_ADDRESS or a local one")
    absent = argparse.SUPPRESS
    help_text = "also write each photo's embedding there (Parquet)"
    on_ray.add_argument("--embeddings", metavar="FOLDER", default=absent, help=help_text)
    help_text = f"of the tags (default {ray_pipeline.DEFAULT_FORMAT})"
    on_ray.add_argument("--format", choices=("parquet", "csv"), default=absent, help=help_text)
    help_text = f"classifying actors, each on half a CPU (default {ray_pipeline.DEFAULT_ACTORS})"
    on_ray.add_argument("--actors", type=int, default=absent, help=help_text)
    return parser


def main(argv=None) -> int:
    """The command line: tag, print the problems and the summary; exit status 2 when nothing could be done."""
    command = parser()
    arguments = command.parse_args(argv)
    ray_options = {keyword: getattr(arguments, flag) for flag, keyword in RAY_ONLY.items() if flag in arguments}
    if arguments.ray is None and ray_options:
        command.error("--embeddings, --format and --actors need --ray")
    try:
        paths = model_folder.files(arguments.model_dir, arguments.model, arguments.thresholds)
        rule = load_review_rule(paths.thresholds, arguments.target_accuracy)
        labels = model_folder.read_spec(paths.model).labels
        if arguments.ray is not None:
            return on_cluster(arguments, paths.model, rule, ray_options, labels)
        output = Path(arguments.output or "tags.csv")
        tags, problems = local.tag(arguments.source, output, paths.model, rule, not arguments.quiet, arguments.workers)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"fmnist.tag: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    print(summary(((tag.label, tag.needs_review) for tag in tags), labels))
    print(f"wrote {output}: {len(tags)} images, {len(problems)} skipped")
    return 0


def on_cluster(arguments, model: Path, rule: ReviewRule, ray_options: dict, labels) -> int:
    """`main` on Ray: the tags in a Parquet (or CSV) folder, the problems in a file beside it; the summary in the
    model's class names, `labels`, read once by `main`."""
    output = arguments.output or "tags"
    result = ray_pipeline.run(
        arguments.source,
        output,
        model,
        rule,
        address=arguments.ray or None,
        progress=not arguments.quiet,
        **ray_options,
    )
    problems_file = ray_pipeline.write_problems(output, result["problems"])
    for problem in result["problems"]:
        print(problem, file=sys.stderr)
    output_format = ray_options.get("output_format", ray_pipeline.DEFAULT_FORMAT)
    print(ray_pipeline.summary(output, output_format, labels))
    print(f"wrote {output}: {result['tagged']} images tagged, {result['skipped']} skipped ({problems_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
