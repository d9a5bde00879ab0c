"""A calibrated network trained without `Frame`, with `Frame` put in front, no retraining: the framing's screening
(docs/robustness.md), made with the committed run of 1709308, the last before `Frame` joined the recipe.

    python -m benchmarks.framed_weights OUTPUT.tflite [--model models/fashion_cnn.keras]
    python -m benchmarks.robustness --split validation --images 5000 --photo-images 250 --model OUTPUT.tflite

`Frame` leaves almost every Fashion-MNIST image as it is, so the trained weights serve it as they stand;
the recipe with it is confirmed by training afresh on paired seeds.
"""

import argparse
from pathlib import Path

import keras

from fmnist import IMAGE_SHAPE
from fmnist.export import to_tflite
from fmnist.model import Frame


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--model", default="models/fashion_cnn.keras")
    arguments = parser.parse_args(argv)
    trained = keras.models.load_model(arguments.model)
    if any(isinstance(layer, Frame) for layer in trained.layers):
        parser.error(f"{arguments.model} frames its images already")
    copies = [type(layer).from_config(layer.get_config()) for layer in trained.layers]
    framed = keras.Sequential([keras.Input(IMAGE_SHAPE, name="image"), Frame(name="frame"), *copies])
    for copy, layer in zip(copies, trained.layers, strict=True):
        copy.set_weights(layer.get_weights())
    arguments.output.write_bytes(to_tflite(framed))
    print("wrote", arguments.output)


if __name__ == "__main__":
    main()
