"""Packaging for ganomaly-keras.

TensorFlow: on Linux x86_64 the CPU-only wheel `tensorflow-cpu` (274 MB against 572 MB
for `tensorflow`) is installed by default. Users with a GPU choose the full build at
install time: `GANOMALY_KERAS_TENSORFLOW="tensorflow[and-cuda]" pip install .`.
Everywhere else `tensorflow` itself is the dependency.
"""

import os
import platform
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (HERE / "ganomaly_keras" / "__init__.py").read_text(),
    re.M,
).group(1)

TF_VERSION = ">=2.21,<2.22"


def tensorflow_requirement():
    chosen = os.environ.get("GANOMALY_KERAS_TENSORFLOW")
    if chosen:
        return chosen if any(c in chosen for c in "<>=") else chosen + TF_VERSION
    if platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"):
        return "tensorflow-cpu" + TF_VERSION
    return "tensorflow" + TF_VERSION


setup(
    name="ganomaly-keras",
    version=VERSION,
    description="GANomaly (Akcay et al., ACCV 2018) and its family for Keras 3.",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["ganomaly_keras", "ganomaly_keras.*"]),
    install_requires=[
        "keras>=3.15",
        tensorflow_requirement(),
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets 4.9.10 imports importlib_resources without declaring it.
        "importlib_resources",
        "numpy>=1.26",
        "scikit-learn>=1.3",
        # Connected defect regions for AUPRO (scipy.ndimage.label).
        "scipy>=1.10",
        "tensorboard>=2.21",
        "pillow>=10",
        # The run's ROC curve and score histograms (ganomaly_keras.training.plots).
        "matplotlib>=3.7",
        # Runs the exported .tflite files (verify_export, benchmark, edge runner).
        "ai-edge-litert>=2.0",
    ],
    # pytest-xdist: the suite runs in 3 processes (pyproject addopts), 1.8x faster on 2 cores.
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3"],
        # `ganomaly-keras benchmark --against-torch`: the PyTorch comparator. Pinned: an
        # unpinned torch pulls several GB of CUDA packages; 2.13.0 has a CPU build.
        "bench": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["ganomaly-keras=ganomaly_keras.cli.main:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
