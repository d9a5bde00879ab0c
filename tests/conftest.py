"""Shared fixtures: tiny synthetic data and models, and real components installed on demand."""

import os
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


def apt_install(package: str, probe: str) -> None:
    """Install a Debian package unless `probe` (a path or a command) is already there; skip where apt is not."""
    if Path(probe).exists() or shutil.which(probe):
        return
    if not shutil.which("apt-get"):
        pytest.skip(f"{package} is needed and apt-get is not available to install it")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env)


@pytest.fixture(scope="session")
def debian_dataset_dir() -> Path:
    """The folder of Debian's dataset-fashion-mnist package, installed if missing."""
    from fmnist import data

    apt_install("dataset-fashion-mnist", str(data.DEBIAN_DIR / "train-images-idx3-ubyte.gz"))
    return data.DEBIAN_DIR


@pytest.fixture
def tiny_images():
    """Twenty random uint8 images with labels covering all ten classes."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8), np.arange(20) % 10
