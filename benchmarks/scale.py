"""Tagging throughput on one machine, side by side in one run: the local tagger before and after decoding in
parallel, and the Ray pipeline with 1 and with 2 actors, on the same photos: reports/scale_benchmark.json.

    python -m benchmarks.scale [--photos 10000] [--size 1000]

The photos are test images rendered as 1,000 px product photos (JPEG, `benchmarks.photos`' default photo).
Every run tags the whole folder into a fresh output with the same conversion and model: `fmnist.tag` with one
decoding process (the tagger before it decoded in parallel) and with one per core, then `fmnist.tag --ray`
on a local cluster of this machine's cores, each actor on half a CPU. Each tagger tags the folder
`REPEATS` times and the report gives its median run: one Ray run varies by seconds. Ray's start-up (`ray.init`)
is timed apart, and so is a pipeline of 10 photos (its median run too): the fixed cost of a run, beside the cost
per photo of the large run.
"""

import argparse
import functools
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import photos
from benchmarks.machine import processor_name
from fmnist import data
from fmnist.core.inference import DEFAULT_MODEL, DEFAULT_REVIEW, DEFAULT_TARGET
from fmnist.core.review import ReviewRule, load_review_rule

OUTPUT = Path("reports/scale_benchmark.json")
REPEATS = 3  # runs of each tagger; the median is reported (docs/scale.md)


def render(job: tuple) -> None:
    """One photo of the folder: a test image as a product photo of `size` pixels, saved as JPEG."""
    folder, index, garment, size = job
    photos.save_photo(folder, index, garment, {**photos.DEFAULT, "size": size})


def timed(function, *arguments, **options) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*arguments, **options)
    return time.perf_counter() - start, result


def median_run(name: str, tag_once) -> dict:
    """Run `tag_once(repeat)`, which returns how many photos it tagged, `REPEATS` times: the median run's
    throughput, and every run's seconds."""
    seconds, images = zip(*(timed(tag_once, repeat) for repeat in range(REPEATS)), strict=True)
    middle = statistics.median_low(seconds)  # a run's own time, for any number of runs
    run = {"seconds": round(middle, 2), "images": images[0], "images_per_s": round(images[0] / middle)}
    run["runs_s"] = [round(s, 2) for s in seconds]
    print(f"{name}: {run['images_per_s']:,} images/s (runs of {run['runs_s']} s)", flush=True)
    return run


def render_folder(folder: Path, garments: np.ndarray, size: int, cores: int) -> None:
    """Every garment as a product photo of `size` pixels in `folder`, rendered in `cores` processes."""
    folder.mkdir()
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(render, [(folder, i, g, size) for i, g in enumerate(garments)], chunksize=64))


def local_runs(folder: Path, scratch: Path, model: Path, rule: ReviewRule, cores: int) -> dict:
    """`fmnist.tag` with one decoding process (as before it decoded in parallel), then with one per core."""
    from fmnist.tag import local

    def tag_once(workers: int, repeat: int) -> int:
        rows, _ = local.tag(folder, scratch / f"{workers}-{repeat}.csv", model, rule, False, workers)
        return len(rows)

    runs = {}
    for name, workers in (("local, one decoding process", 1), (f"local, {cores} decoding processes", cores)):
        runs[name] = median_run(name, functools.partial(tag_once, workers))
    return runs


def ray_runs(folder: Path, scratch: Path, model: Path, rule: ReviewRule, cores: int) -> tuple[dict, dict]:
    """Ray's start-up, a pipeline of 10 photos (its fixed cost), then the folder with 1 and with 2 actors."""
    import ray

    from fmnist.tag import ray_pipeline

    small = scratch / "ten"
    small.mkdir()
    for path in sorted(folder.iterdir())[:10]:
        (small / path.name).write_bytes(path.read_bytes())
    startup, _ = timed(ray.init, address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False)

    def tag_once(source: Path, actors: int, repeat: int) -> int:
        output = str(scratch / f"ray-{source.name}-{actors}-{repeat}")
        return ray_pipeline.run(str(source), output, model, rule, actors=actors, progress=False)["tagged"]

    fixed = median_run("Ray, a pipeline of 10 photos", functools.partial(tag_once, small, 2))
    runs = {}
    for actors in (1, 2):
        name = f"Ray, {actors} actor{'s' * (actors > 1)} of half a CPU"
        runs[name] = median_run(name, functools.partial(tag_once, folder, actors))
    ray.shutdown()
    return runs, {"ray_startup_s": round(startup, 2), "ray_ten_photo_pipeline_s": fixed["seconds"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1000, help="the photos' longest side, in pixels")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args(argv)

    rule = load_review_rule(DEFAULT_REVIEW, DEFAULT_TARGET)
    _, (test_images, _) = data.load_data()
    garments = test_images[np.arange(arguments.photos) % len(test_images)]
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch, "photos")
        render_folder(folder, garments, arguments.size, cores)
        kilobytes = sum(path.stat().st_size for path in folder.iterdir()) / arguments.photos / 1e3
        print(f"{arguments.photos:,} photos of {arguments.size} px rendered, {kilobytes:.0f} KB each", flush=True)
        local = local_runs(folder, Path(scratch), arguments.model, rule, cores)
        on_ray, fixed_costs = ray_runs(folder, Path(scratch), arguments.model, rule, cores)

    before, after = (run["images_per_s"] for run in local.values())
    two_actors = list(on_ray.values())[1]
    report = {
        "photos": arguments.photos,
        "size": arguments.size,
        "photo_kilobytes": round(kilobytes, 1),
        "processor": processor_name(),
        "cores": cores,
        "runs": local | on_ray,
        "parallel_speed_up": round(after / before, 2),
        "ray_2_actors_over_parallel_local": round(two_actors["images_per_s"] / after, 2),
        **fixed_costs,
        "ray_ms_per_photo_2_actors": round(1000 * two_actors["seconds"] / arguments.photos, 2),
    }
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
