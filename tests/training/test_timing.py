"""training/timing.py: where a run's time goes."""


import keras
import numpy as np
import pytest

from ganomaly_keras.training.timing import PhaseTimes, TimedCallback, is_default


class _Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        import time

        time.sleep(0.05)


def test_timed_callbacks_count_their_hooks_and_keep_default_hooks_default():
    seconds = {}
    timed = TimedCallback(_Slow(), seconds)
    assert is_default(timed.on_train_batch_end)  # batch hooks stay asynchronous
    assert not is_default(timed.on_epoch_end)
    timed.on_epoch_end(0)
    timed.on_epoch_end(1)
    assert 0.1 <= seconds["_Slow"] < 1.0


def test_phase_times_split_fit_into_steps_and_callbacks():
    times = PhaseTimes()
    with times.phase("fit"):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(np.zeros((8, 2)), np.zeros(8), epochs=2, verbose=0,
                  callbacks=times.timed([_Slow()]))
    summary = times.summary()
    assert summary["callbacks"]["_Slow"] >= 0.1
    seconds = summary["seconds"]
    assert seconds["training_steps"] + seconds["callbacks"] == pytest.approx(seconds["fit"], abs=0.02)
    assert 0 < summary["training_steps_fraction"] < 1

