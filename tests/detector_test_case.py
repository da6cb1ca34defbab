"""The checks every detector of the family owes its users, run for each member.

In the style of keras-hub's `TestCase`: a member's test module subclasses
`DetectorTestCase`, names its class and options, and pytest runs every check below
for it: training logs every loss, config and `.keras` round trips (optimizer state
included), scores independent of the batch, the exported SavedModel and float32
LiteRT file equal to Keras, and distributed training equal to one device.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.metadata import read_metadata
from ganomaly_keras.deploy.runtimes import SavedModelRuntime, TFLiteRuntime
from ganomaly_keras.deploy.serving import preprocess, to_uint8_images
from tests.settings import TINY_MODEL

# float32 scores of one model through other kernels (a SavedModel, LiteRT): a few
# hundred units of 2**-23 of relative error, and tiny scores near 0 absolutely.
SCORE_TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


def deterministic(cls):
    """`cls` with its training draws replaced by functions of each image, and no
    dropout: the same batch split over replicas then draws what one device draws."""

    class Deterministic(cls):
        def __init__(self, **options):
            super().__init__(**options)
            for layer in self._flatten_layers():  # dropout draws masks
                if isinstance(layer, keras.layers.Dropout):
                    layer.rate = 0.0

        def _draw_noise(self, x):
            mean = keras.ops.mean(x, axis=(1, 2, 3), keepdims=True)
            ramp = keras.ops.linspace(-1.0, 1.0, self.latent_size)
            return mean + keras.ops.reshape(ramp, (1, 1, 1, self.latent_size))

        def _draw_mix(self, x):
            return keras.ops.mean(x, axis=(1, 2, 3), keepdims=True) * 0.25 + 0.5

    return Deterministic


class DetectorTestCase:
    """Every shared check of a family member.

    Attributes:
        detector_class: the detector.
        init_kwargs: its options on top of the tiny settings (`TINY_MODEL`).
        losses: the loss names its training logs must hold.
        reinitialises_discriminator: whether it carries GANomaly's discriminator
            re-initialisation (and its `d_reinit` metric).
    """

    detector_class = None
    init_kwargs = {}
    losses = ("g_loss", "d_loss")
    reinitialises_discriminator = False

    def build(self, cls=None, **options):
        return (cls or self.detector_class)(
            **{**TINY_MODEL, "seed": 0, **self.init_kwargs, **options}
        )

    @pytest.fixture(scope="class")
    def trained(self, digits16):
        """The member trained for one epoch on normal digits (not 0); test images
        mix normal digits and zeros."""
        images, labels = digits16
        train, test = images[labels != 0][:128], np.concatenate(
            [images[labels != 0][-8:], images[labels == 0][:8]]
        )
        keras.utils.set_random_seed(0)
        model = self.build()
        model.compile(jit_compile=False)
        history = model.fit(train, epochs=1, batch_size=32, verbose=0).history
        return model, history, train, test

    def test_training_logs_every_loss(self, trained):
        _, history, _, _ = trained
        assert set(self.losses) <= set(history), (self.losses, sorted(history))
        for metric, values in history.items():
            assert np.all(np.isfinite(values)), (metric, values)

    def test_only_members_that_reinitialise_carry_the_metric(self, trained):
        names = [m.name for m in trained[0].metrics]
        assert ("d_reinit" in names) == self.reinitialises_discriminator

    def test_config_round_trips(self, trained):
        model = trained[0]
        config = model.get_config()
        clone = type(model).from_config(config)
        assert clone.get_config() == config
        assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
        assert type(restored) is type(model) and restored.get_config() == config

    def test_keras_file_round_trips_with_the_optimizer_state(self, trained, tmp_path):
        model, _, _, test = trained
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
        np.testing.assert_allclose(
            loaded.predict(test, verbose=0), model.predict(test, verbose=0), rtol=1e-6, atol=1e-7
        )
        np.testing.assert_allclose(
            loaded.reconstruct(test), model.reconstruct(test), rtol=1e-6, atol=1e-6
        )
        for mine, theirs in (
            (model.optimizer, loaded.optimizer),
            (model.discriminator_optimizer, loaded.discriminator_optimizer),
        ):
            assert int(theirs.iterations) == int(mine.iterations) > 0
            for a, b in zip(mine.variables, theirs.variables):
                np.testing.assert_array_equal(a.numpy(), b.numpy())

    def test_scores_do_not_depend_on_the_batch(self, trained):
        """A score is the same alone, in its batch, and shuffled among other images."""
        model, _, train, test = trained
        scores = model.predict(test, batch_size=16, verbose=0)
        alone = np.concatenate([model(test[i : i + 1]).numpy() for i in range(len(test))])
        mixed = np.concatenate([test, train[:16]])
        order = np.random.default_rng(1).permutation(len(mixed))
        in_mix = np.empty(len(mixed), "float32")
        in_mix[order] = model.predict(mixed[order], batch_size=len(mixed), verbose=0)
        np.testing.assert_allclose(alone, scores, **SCORE_TOLERANCE)
        np.testing.assert_allclose(in_mix[: len(test)], scores, **SCORE_TOLERANCE)

    def test_export_computes_what_keras_computes(self, trained, tmp_path):
        """The SavedModel and the float32 LiteRT file give the Keras model's outputs,
        decide on their own scores, and the metadata states the model's score."""
        model = trained[0]
        copy = type(model).from_config(model.get_config())
        copy.set_weights(model.get_weights())
        copy.calibrate(trained[2][:64])
        out_dir = tmp_path / "export"
        paths = export_model(copy, out_dir, formats=("saved_model", "tflite_float32"))
        pixels = to_uint8_images(trained[3])
        expected = copy.calibrated_outputs(preprocess(pixels).numpy())
        threshold = np.float32(copy.calibration.threshold)
        for runtime in (SavedModelRuntime(paths["saved_model"]), TFLiteRuntime(paths["tflite_float32"])):
            outputs = runtime.run(pixels)
            for name in ("anomaly_score", "normalized_score"):
                np.testing.assert_allclose(outputs[name], expected[name], **SCORE_TOLERANCE)
            np.testing.assert_array_equal(
                outputs["is_anomaly"], (outputs["anomaly_score"] > threshold).astype(int)
            )
        metadata = read_metadata(out_dir)
        assert (metadata.model_class, metadata.score_name) == (type(copy).__name__, copy.score)
        assert metadata.score_definition == copy.score_definition
        assert metadata.threshold == copy.calibration.threshold

    def test_distributed_training_computes_what_one_device_computes(self, digits16, mirrored):
        """Two steps on two replicas (MirroredStrategy over two logical CPUs) equal
        two steps on one device on the same global batches: each replica's loss is
        divided by the number of replicas before its gradients are summed. SGD,
        whose steps scale with the gradients (Adam's hardly do), so a wrong
        division shows; training draws are made functions of each image
        (`deterministic`), so both sides draw the same codes."""
        images, labels = digits16
        x = images[labels != 0][:32]
        results = []
        for strategy in (tf.distribute.get_strategy(), mirrored):
            keras.utils.set_random_seed(0)
            with strategy.scope():
                model = self.build(deterministic(self.detector_class), sync_batchnorm=True)
                model.compile(
                    generator_optimizer=keras.optimizers.SGD(0.05),
                    discriminator_optimizer=keras.optimizers.SGD(0.05), jit_compile=False,
                )
            history = model.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0).history
            results.append((model, history))
        (single, single_logs), (multi, multi_logs) = results
        assert multi.distribute_strategy.num_replicas_in_sync == 2
        for name in self.losses:
            assert multi_logs[name][0] == pytest.approx(single_logs[name][0], rel=1e-4, abs=1e-6), name
        for a, b in zip(single.weights, multi.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-5, err_msg=a.path)
