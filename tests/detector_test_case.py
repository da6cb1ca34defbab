"""The checks every detector of the family owes its users, in one place (in the style
of keras-hub's `TestCase.run_*_test`): `run_detector_test` trains a model and checks
fit, config round trip, `.keras` round trip, batch independence, and the exported
SavedModel and float32 TFLite against Keras."""

import keras
import numpy as np

from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.metadata import read_metadata
from ganomaly_keras.deploy.runtimes import SavedModelRuntime, TFLiteRuntime
from ganomaly_keras.deploy.serving import preprocess, to_uint8_images

SCORE_TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


def run_detector_test(model, train, test, tmp_path, losses=("g_loss", "d_loss")):
    """Every shared check of a detector.

    Args:
        model: an untrained, compiled detector.
        train: normal float images in [-1, 1] to fit on (and calibrate with).
        test: float images to score.
        tmp_path: a folder for the saved and exported files.
        losses: loss names the training logs must hold.
    """
    history = model.fit(train, epochs=1, batch_size=32, verbose=0).history
    check_fit(history, losses)
    check_config_round_trip(model)
    check_keras_round_trip(model, test, tmp_path / "model.keras")
    check_batch_independence(model, train, test)
    check_export_parity(model, train, test, tmp_path / "export")


def check_fit(history, losses):
    assert set(losses) <= set(history), (losses, sorted(history))
    for metric, values in history.items():
        assert np.all(np.isfinite(values)), (metric, values)


def check_config_round_trip(model):
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(restored) is type(model) and restored.get_config() == config


def check_keras_round_trip(model, test, path):
    """Same class, config, scores, reconstructions and optimizer state."""
    model.save(str(path))
    loaded = keras.saving.load_model(str(path))
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        loaded.predict(test, verbose=0), model.predict(test, verbose=0), rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(loaded.reconstruct(test), model.reconstruct(test), rtol=1e-6, atol=1e-6)
    for mine, theirs in (
        (model.optimizer, loaded.optimizer),
        (model.discriminator_optimizer, loaded.discriminator_optimizer),
    ):
        assert int(theirs.iterations) == int(mine.iterations) > 0
        for a, b in zip(mine.variables, theirs.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def check_batch_independence(model, train, test):
    """A score is the same alone, in its batch, and shuffled among other images."""
    scores = model.predict(test, batch_size=16, verbose=0)
    alone = np.concatenate([model(test[i : i + 1]).numpy() for i in range(len(test))])
    mixed = np.concatenate([test, train[:16]])
    order = np.random.default_rng(1).permutation(len(mixed))
    in_mix = np.empty(len(mixed), "float32")
    in_mix[order] = model.predict(mixed[order], batch_size=len(mixed), verbose=0)
    np.testing.assert_allclose(alone, scores, **SCORE_TOLERANCE)
    np.testing.assert_allclose(in_mix[: len(test)], scores, **SCORE_TOLERANCE)


def check_export_parity(model, train, test, out_dir):
    """The SavedModel and the float32 TFLite file compute the Keras model's outputs,
    and the metadata states the model's score."""
    model.calibrate(train[:64])
    paths = export_model(model, out_dir, formats=("saved_model", "tflite_float32"))
    pixels = to_uint8_images(test)
    expected = model.calibrated_outputs(preprocess(pixels).numpy())
    threshold = model.calibration.threshold
    clear = np.abs(expected["anomaly_score"] - threshold) > 1e-4 * abs(threshold)
    for runtime in (SavedModelRuntime(paths["saved_model"]), TFLiteRuntime(paths["tflite_float32"])):
        outputs = runtime.run(pixels)
        for name in ("anomaly_score", "normalized_score"):
            np.testing.assert_allclose(outputs[name], expected[name], **SCORE_TOLERANCE)
        # Decisions agree wherever a score is not on the threshold's knife edge.
        np.testing.assert_array_equal(outputs["is_anomaly"][clear], expected["is_anomaly"][clear])
    metadata = read_metadata(out_dir)
    assert (metadata.model_class, metadata.score_name) == (type(model).__name__, model.score)
    assert metadata.score_definition == model.score_definition
    assert metadata.threshold == threshold
