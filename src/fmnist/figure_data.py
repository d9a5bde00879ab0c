"""What a figure draws, read back from its matplotlib objects, so that the regression test can compare the
figures of two runs by their data rather than by their pixels. `plots.save` writes it beside each PNG."""

import hashlib

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


def drawn(figure) -> dict:
    """What `figure` draws, read back from its matplotlib objects: per axes its labels (title, axis labels,
    ticks), its other texts and the `values` of its lines, bars and images; and its smallest font."""
    figure.canvas.draw()  # lays out the ticks and their labels
    axes = []
    for axis in figure.axes:
        labels = [axis.title, axis.xaxis.label, axis.yaxis.label, *axis.get_xticklabels(), *axis.get_yticklabels()]
        axes.append(
            {
                "labels": [text.get_text() for text in labels if text.get_text()],
                "texts": [text.get_text() for text in axis.texts],
                "lines": [values(line.get_ydata()) for line in axis.get_lines()],
                "bars": [values([bar_length(bar, bars.orientation) for bar in bars]) for bars in axis.containers],
                "images": [values(image.get_array()) for image in axis.get_images()],
            }
        )
    texts = [text for text in figure.findobj(matplotlib.text.Text) if text.get_visible() and text.get_text()]
    return {"axes": axes, "smallest_font": min(text.get_fontsize() for text in texts)}
