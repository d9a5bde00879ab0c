"""The probe of more views at prediction time (docs/robustness.md, "A probe: more views when the network
answers"): a kept network of the augmentation search answering from its embedding averaged over the photo as
it is and tilted by ±t degrees, each look with its mirror as the network takes it already; judged on its
seed's validation split, clean and under every robustness condition.

    python -m benchmarks.views_probe build/round8-models --trained-in reports/round8_search.jsonl \
        --seeds 42 43 44 --tilts 0 3 5 --output reports/views_probe.jsonl

t = 0 is the network as it answers now, the pairing's baseline.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmarks import augmentation_search
from benchmarks.augmentation_search import ADOPTED


class TiltedViews:
    """`model` answering from its embedding averaged over each photo as it is and tilted by +`degrees` and
    −`degrees` (bilinear, black outside the image, as the training tilt draws them)."""

    def __init__(self, model, degrees: float):
        import keras

        from fmnist.model import EMBEDDING_LAYER

        self.embed = keras.Model(model.inputs, model.get_layer(EMBEDDING_LAYER).output)
        self.classify = model.get_layer("probabilities")
        self.angles = (0, degrees, -degrees) if degrees else (0,)

    def predict(self, pictures: np.ndarray, batch_size: int, verbose=0) -> np.ndarray:
        """The class probabilities of `pictures` (n, side, side, 1), from the averaged embedding."""
        import keras

        looks = [
            self.embed.predict(tilted(pictures, angle), batch_size=batch_size, verbose=verbose) for angle in self.angles
        ]
        return keras.ops.convert_to_numpy(self.classify(np.mean(looks, axis=0)))


def tilted(pictures: np.ndarray, degrees: float) -> np.ndarray:
    """`pictures` (n, side, side, 1) turned by `degrees` about their centres, black outside them."""
    if not degrees:
        return pictures
    return ndimage.rotate(pictures, degrees, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)


def main(argv=None) -> None:
    """Judge the adopted recipe's kept networks (`folder`) with the looks tilted by each t: one line each, skipping
    those that `--output` holds already."""
    import keras

    import fmnist.model  # noqa: F401 (registers the project's layers, which the kept networks hold)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the networks that augmentation_search --save kept")
    parser.add_argument("--trained-in", type=Path, required=True, help="the report of the runs that kept them")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--tilts", type=float, nargs="+", required=True, help="t in degrees; 0: as it answers now")
    parser.add_argument("--output", type=Path, required=True)
    arguments = parser.parse_args(argv)
    trained = {(run["candidate"], run["seed"]): run for run in map(json.loads, arguments.trained_in.open())}
    done = (
        {(run["candidate"], run["seed"]) for run in map(json.loads, arguments.output.open())}
        if arguments.output.exists()
        else set()
    )
    for seed in arguments.seeds:
        if (ADOPTED, seed) not in trained:
            raise ValueError(f"{arguments.trained_in} has no run of the adopted recipe with seed {seed}")
        training = {key: trained[ADOPTED, seed][key] for key in ("train_images", "epochs")}
        slug = augmentation_search.CANDIDATES_BY_SLUG[ADOPTED]
        model = keras.models.load_model(arguments.folder / f"{slug}-{seed}.keras")
        _, (x_val, y_val) = augmentation_search.split(seed)
        for degrees in arguments.tilts:
            name = f"{ADOPTED}, views tilted ±{degrees:g}°" if degrees else ADOPTED
            if (name, seed) in done:
                continue
            accuracy = augmentation_search.condition_accuracy(TiltedViews(model, degrees), x_val, y_val.argmax(axis=1))
            augmentation_search.append_run(
                augmentation_search.judged(name, seed, accuracy, **training), arguments.output
            )


if __name__ == "__main__":
    main()
