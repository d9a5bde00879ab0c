"""Make the four official Fashion-MNIST files available offline, verified, and preprocess them.

`keras.datasets.fashion_mnist.load_data()` reads the Keras cache before it downloads, so
`ensure_dataset()` fills that cache from local copies first and checks every file.
"""

import dataclasses
import gzip
import hashlib
import os
import shutil
import zlib
from pathlib import Path

import numpy as np

from fmnist.core.files import write_atomically

OFFICIAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "Get the official files with `sudo apt-get install dataset-fashion-mnist` "
    f"(Debian/Ubuntu, files land in {DEBIAN_DIR}) or download them from {OFFICIAL_URL}, "
    "then point FASHION_MNIST_DIR at the folder that holds them."
)


@dataclasses.dataclass(frozen=True)
class DataFile:
    """Checksums of one official file: of the `.gz` as Zalando publishes it, and of its content."""

    name: str
    md5: str
    sha256: str
    content_sha256: str
    content_bytes: int


# md5 and sha256: the `.gz` files as downloaded from Zalando (their README lists the MD5s).
# content_sha256: the decompressed IDX bytes. Debian's `dataset-fashion-mnist` re-packs the
# same deflate stream without the file name in the gzip header, so only the content matches.
FILES = (
    DataFile(
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        60_008,
    ),
    DataFile(
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        47_040_016,
    ),
    DataFile(
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        10_008,
    ),
    DataFile(
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        7_840_016,
    ),
)


class DatasetError(RuntimeError):
    """A Fashion-MNIST file is missing or does not match the official checksums."""


def keras_cache_dir(environ=None) -> Path:
    """Return the folder that `keras.datasets.fashion_mnist.load_data()` reads first."""
    environ = os.environ if environ is None else environ
    keras_home = environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "datasets" / "fashion-mnist"


def search_dirs(environ=None) -> list[Path]:
    """Return the folders searched for the files, in order of preference."""
    environ = os.environ if environ is None else environ
    dirs = [Path(environ["FASHION_MNIST_DIR"])] if environ.get("FASHION_MNIST_DIR") else []
    return dirs + [keras_cache_dir(environ), DEBIAN_DIR]


def _content_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return "not a complete gzip file"
    return digest.hexdigest()


def verify_file(path: Path, spec: DataFile) -> None:
    """Raise `DatasetError` unless `path` holds the official bytes or the official content."""
    data = Path(path).read_bytes()
    if hashlib.md5(data).hexdigest() == spec.md5 and hashlib.sha256(data).hexdigest() == spec.sha256:
        return
    actual = _content_digest(Path(path))
    if actual == spec.content_sha256:
        return
    raise DatasetError(
        f"{path} is not the official {spec.name}: expected MD5 {spec.md5} "
        f"(SHA-256 {spec.sha256}) for the .gz, or SHA-256 {spec.content_sha256} for its "
        f"decompressed content, found content {actual}. Delete or replace the file. {HOW_TO_GET}"
    )


def _copy_atomically(source: Path, target: Path) -> None:
    with open(source, "rb") as original, write_atomically(target) as copy:
        shutil.copyfileobj(original, copy)


def _download(spec: DataFile, cache: Path) -> Path:
    import keras  # imported here: only the download path needs it

    try:
        downloaded = keras.utils.get_file(
            spec.name,
            origin=KERAS_URL + spec.name,
            cache_dir=str(cache.parent.parent),
            cache_subdir="datasets/fashion-mnist",
        )
    except Exception as error:  # noqa: BLE001 - any network failure means the same to the user
        raise DatasetError(
            f"{spec.name} is not on this machine and the download failed ({error}). {HOW_TO_GET}"
        ) from None
    return Path(downloaded)


def ensure_dataset(environ=None, allow_download=True) -> Path:
    """Put verified copies of the four files in the Keras cache and return that folder.

    Each file comes from the first folder of `search_dirs()` that has it. A corrupt file stops
    with `DatasetError`; it is never downloaded over. Keras downloads only what no folder has.
    """
    cache = keras_cache_dir(environ)
    for spec in FILES:
        found = next((folder / spec.name for folder in search_dirs(environ) if (folder / spec.name).is_file()), None)
        if found is None:
            if not allow_download:
                raise DatasetError(
                    f"{spec.name} was found in none of {[str(d) for d in search_dirs(environ)]}. {HOW_TO_GET}"
                )
            found = _download(spec, cache)
        verify_file(found, spec)
        target = cache / spec.name
        if found.resolve() != target.resolve():
            _copy_atomically(found, target)
    return cache


def scale_images(images: np.ndarray) -> np.ndarray:
    """Scale uint8 images of shape (n, 28, 28) to float32 in [0, 1] with a channel axis."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (n, height, width), got {images.dtype} {images.shape}")
    return (images.astype("float32") / 255.0)[..., np.newaxis]


def load_data():
    """`keras.datasets.fashion_mnist.load_data()` from the verified files: ((train images, labels), (test images,
    labels)), uint8 images of 28 × 28 and integer labels. `ensure_dataset` fills Keras's cache first, so Keras
    reads the local copies instead of downloading."""
    import keras

    ensure_dataset()
    return keras.datasets.fashion_mnist.load_data()


def split_validation(images, labels, validation_size: int, seed: int):
    """Shuffle with `seed` and carve `validation_size` examples off; return (train, validation) pairs."""
    if not 0 < validation_size < len(images):
        raise ValueError(f"validation_size must be between 1 and {len(images) - 1}, got {validation_size}")
    order = np.random.default_rng(seed).permutation(len(images))
    train, validation = order[validation_size:], order[:validation_size]
    return (images[train], labels[train]), (images[validation], labels[validation])


if __name__ == "__main__":
    folder = ensure_dataset()
    print(f"Fashion-MNIST: four verified files in {folder}")
