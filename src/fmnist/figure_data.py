"""What a figure draws, read back from its matplotlib objects, so that the regression test can compare the
figures of two runs by their data rather than by their pixels. `save` writes it beside each PNG."""

import hashlib
import json
from pathlib import Path

import matplotlib.collections
import matplotlib.text
import numpy as np


def values(array) -> list | dict:
    """Numbers as the regression test compares them: up to 100 as values to 4 decimals; more as their shape,
    mean and a hash of the values to 3 decimals."""
    array = np.ma.getdata(np.asarray(array, dtype="float64"))
    if array.size <= 100:
        return np.round(array, 4).tolist()
    rounded = np.round(array, 3) + 0.0  # + 0.0: -0.0 hashes as 0.0
    summary = {"shape": list(array.shape), "mean": round(float(array.mean()), 4)}
    return summary | {"sha1": hashlib.sha1(rounded).hexdigest()}


def bar_length(bar, orientation: str) -> float:
    return bar.get_height() if orientation == "vertical" else bar.get_width()


MARKS = (matplotlib.collections.LineCollection, matplotlib.collections.PathCollection)


def marks(collection) -> list | dict:
    """The `values` of a scatter's points, one row (x, y, size) each, or of line segments' ends, one row (x, y)
    each."""
    if isinstance(collection, matplotlib.collections.LineCollection):
        segments = collection.get_segments()
        return values(np.concatenate(segments) if segments else [])
    offsets, sizes = collection.get_offsets(), collection.get_sizes()
    return values(np.column_stack([offsets, np.broadcast_to(sizes, len(offsets))]))


def legend_texts(legend) -> list[str]:
    return [text.get_text() for text in legend.get_texts()] if legend else []


def drawn(figure) -> dict:
    """What `figure` draws, read back from its matplotlib objects: per axes its labels (title, axis labels,
    ticks), its other texts, its legend, the `values` of its lines, bars, images, scatters and segments (`marks`)
    and each image's colour map; the figure's title and legend; and its smallest font."""
    figure.canvas.draw()  # lays out the ticks and their labels
    axes = []
    for axis in figure.axes:
        labels = [axis.title, axis.xaxis.label, axis.yaxis.label, *axis.get_xticklabels(), *axis.get_yticklabels()]
        axes.append(
            {
                "labels": [text.get_text() for text in labels if text.get_text()],
                "texts": [text.get_text() for text in axis.texts],
                "legend": legend_texts(axis.get_legend()),
                "lines": [values(line.get_ydata()) for line in axis.get_lines()],
                "bars": [values([bar_length(bar, bars.orientation) for bar in bars]) for bars in axis.containers],
                "images": [values(image.get_array()) for image in axis.get_images()],
                "colormaps": [image.get_cmap().name for image in axis.get_images()],
                "marks": [marks(collection) for collection in axis.collections if isinstance(collection, MARKS)],
            }
        )
    titles = [figure.get_suptitle(), *(text for legend in figure.legends for text in legend_texts(legend))]
    texts = [text for text in figure.findobj(matplotlib.text.Text) if text.get_visible() and text.get_text()]
    return {
        "axes": axes,
        "titles": [title for title in titles if title],
        "smallest_font": min(text.get_fontsize() for text in texts),
    }


def save(figure, path, dpi: int) -> Path:
    """Save `figure` as a PNG and what it draws (`drawn`) as JSON beside it; the PNG's metadata holds its smallest
    font and its number of images. Return the PNG's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = drawn(figure)
    images = sum(len(axis["images"]) > 0 for axis in data["axes"])
    metadata = {"Smallest font (pt)": str(data["smallest_font"]), "Images": str(images)}
    figure.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white", metadata=metadata)
    path.with_suffix(".json").write_text(json.dumps(data) + "\n")
    return path
