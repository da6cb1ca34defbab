"""Test configuration: the TensorFlow backend, two logical CPUs, quiet logs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ganomaly_keras import configure_tensorflow  # noqa: E402

configure_tensorflow()  # the backend and thread settings, before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute.MirroredStrategy can be tested here.
# This must happen before TensorFlow initialises its devices.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)


@pytest.fixture(scope="session")
def mirrored():
    """One MirroredStrategy over the two logical CPUs, for the whole session: two
    strategies in one process can reuse each other's collective keys and fail."""
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "conftest.py must create two logical CPU devices"
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    # Without Python's full garbage collection (free_memory=True, Keras' default),
    # which took 0.2-0.3 s after every test, a quarter of some files' time.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="session")
def digits16():
    """scikit-learn's digits at 16x16 in [-1, 1] with their digit labels."""
    from ganomaly_keras.data import load_digits

    return load_digits(image_size=16)


@pytest.fixture(scope="session")
def trained_digits_state(digits16):
    """What a briefly trained 16x16 model (digit 0 as the anomaly) is made of: its
    config, its weights and its splits (train / validation 10% / test 20% of the
    normal digits), trained once per session. The arrays are read-only; tests get
    their own model from it (`trained_digits`, `model_from_state`)."""
    from ganomaly_keras import GANomaly
    from ganomaly_keras.data import leave_one_class_out

    keras.utils.set_random_seed(0)
    images, classes = digits16
    splits = leave_one_class_out(images, classes, 0, validation_fraction=0.1, seed=0)
    model = GANomaly(image_size=16, channels=1, width=16, latent_size=32, seed=0)
    model.compile(jit_compile=False)
    model.fit(splits["train"].images, epochs=6, batch_size=64, verbose=0)
    for split in splits.values():
        for array in split:
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
    return model.get_config(), model.get_weights(), splits


def model_from_state(state):
    """A new model holding the trained weights of `trained_digits_state`."""
    from ganomaly_keras import GANomaly

    config, weights, _ = state
    model = GANomaly.from_config(config)
    model.set_weights(weights)
    return model


@pytest.fixture
def trained_digits(trained_digits_state):
    """The session's trained digits model, a copy of its own for each test (so that
    calibrating or training it changes nothing for the next test), and its splits.
    Tests that calibrate it calibrate it themselves."""
    return model_from_state(trained_digits_state), trained_digits_state[2]


@pytest.fixture
def chdir_tmp(tmp_path, monkeypatch):
    """Run the test inside its own temporary folder (commands write runs/ there)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def mvtec_folder(tmp_path):
    """An MVTec-layout folder mixing formats, sizes, grayscale and colour."""
    from tests.helpers import write_flat_image

    root = tmp_path / "bottle"
    for i in range(10):
        mode = "RGB" if i % 2 else "L"
        fmt, ext = [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp")][i % 3]
        write_flat_image(str(root / "train/good" / f"{i:03d}.{ext}"), 20 + i, mode, 40, fmt)
    for i in range(5):
        write_flat_image(str(root / "test/good" / f"{i:03d}.png"), 24, "L", 40, "PNG")
        write_flat_image(str(root / "test/crack" / f"{i:03d}.png"), 24, "RGB", 220, "PNG")
        write_flat_image(str(root / "ground_truth/crack" / f"{i:03d}_mask.png"), 24, "L", 255, "PNG")
    (root / "train/good/notes.txt").write_text("not an image, ignored by extension")
    return root


@pytest.fixture(scope="session")
def exported(trained_digits_state, tmp_path_factory):
    """The digits model, compiled (so with both optimizers' state, as a run's model),
    calibrated on validation and exported in every format: `(model, paths, folder,
    uint8 test images, test labels)`."""
    from ganomaly_keras.deploy.export import export_model
    from ganomaly_keras.deploy.serving import to_uint8_images

    model, splits = model_from_state(trained_digits_state), trained_digits_state[2]
    model.compile(jit_compile=False)
    val = splits["validation"]
    model.calibrate(val.images, val.labels)
    out = tmp_path_factory.mktemp("export") / "digits"
    paths = export_model(
        model,
        out,
        representative_data=splits["train"].images,
        training_data={"source": "digits", "abnormal_class": 0, "seed": 0},
        validation={"auroc": 0.9},
    )
    test = splits["test"]
    return model, paths, str(out), to_uint8_images(test.images), test.labels
