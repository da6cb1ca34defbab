"""Helpers the test modules share: folders of images written for a test, the command
line's exit status, small training data, training under a strategy, and the
TensorFlow-free edge runner in a fresh interpreter."""

import os
import subprocess
import sys

import keras
import numpy as np
from PIL import Image

from ganomaly_keras import GANomaly
from ganomaly_keras.cli.main import main
from tests.settings import REPO

EDGE_RUNNER = os.path.join(REPO, "export", "edge_inference.py")


def status(argv):
    """The exit status of `ganomaly-keras argv`, argparse's errors included."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def write_array(path, array):
    """An image array as a file (its format from the extension), folders made."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def write_flat_image(path, size, mode, value, fmt):
    """A square image of one value, in `mode` ("L" or "RGB") and format `fmt`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    channels = 3 if mode == "RGB" else 1
    array = np.full((size, size, channels), value, np.uint8).squeeze()
    Image.fromarray(array, mode=mode).save(path, format=fmt)


def make_inspection_folder(root, size=48, seed=0):
    """A tiny MVTec-layout folder: noisy grey texture, defects are bright squares with
    their masks."""
    rng = np.random.default_rng(seed)

    def texture():
        return (120 + 20 * rng.standard_normal((size, size, 3))).clip(0, 255).astype(np.uint8)

    for i in range(16):
        write_array(f"{root}/train/good/{i:03d}.png", texture())
    for i in range(5):
        write_array(f"{root}/test/good/{i:03d}.png", texture())
    for i in range(5):
        image, mask = texture(), np.zeros((size, size), np.uint8)
        y, x = rng.integers(4, size - 12, 2)
        image[y : y + 8, x : x + 8] = 250
        mask[y : y + 8, x : x + 8] = 255
        write_array(f"{root}/test/bright/{i:03d}.png", image)
        write_array(f"{root}/ground_truth/bright/{i:03d}_mask.png", mask)
    return root


def image_folder(root, n=3, damaged=True):
    """`n` small grey PNGs, and with `damaged` a truncated PNG and an empty file."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((20, 20), (37 * i) % 256, np.uint8)).save(root / f"{i}.png")
    if damaged:
        # A real PNG header, its data cut off.
        data = (root / "0.png").read_bytes()
        (root / "broken.png").write_bytes(data[: len(data) // 2])
        (root / "empty.png").write_bytes(b"")
    return root


def tiny_fit_data(digits16):
    """A compiled tiny GANomaly, 96 normal digits (not 0) to fit on, and 16 labelled
    validation images: `(model, normal, val_x, val_y)`."""
    images, classes = digits16
    normal = images[classes != 0][:96]
    val_x = np.concatenate([images[classes != 0][-8:], images[classes == 0][:8]])
    val_y = np.r_[np.zeros(8), np.ones(8)].astype(int)
    model = GANomaly(image_size=16, channels=1, latent_size=8, width=8)
    model.compile(run_eagerly=False, jit_compile=False)
    return model, normal, val_x, val_y


def train_under(strategy, x, **options):
    """A tiny GANomaly (synchronised BatchNorm) trained for one epoch of batches of 16
    under `strategy`: `(model, history)`."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = GANomaly(image_size=16, channels=1, latent_size=16, width=8,
                         sync_batchnorm=True, **options)
        model.compile(jit_compile=False)
    history = model.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0)
    return model, history.history


def run_edge(args, cwd):
    """The edge runner in a fresh interpreter where TensorFlow and Keras cannot load
    (it imports only the TensorFlow-free `ganomaly_keras.edge`)."""
    code = (
        "import sys, runpy\n"
        "for name in ('tensorflow', 'keras', 'tf_keras'):\n"
        "    sys.modules[name] = None  # any import of them raises ImportError\n"
        f"sys.argv = {['edge_inference.py'] + args!r}\n"
        "try:\n"
        f"    runpy.run_path({EDGE_RUNNER!r}, run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras') and sys.modules[m] is not None]\n"
        "    assert not loaded, loaded\n"
        "    raise\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )
