"""Where a run's wall time goes: the phases of `train_run`, and within `fit` each
callback's share, so that what is not training can be seen and cut.

`train_run` writes the result to `metrics.json` under "timings" and prints one line.
"""

import contextlib
import time

import keras

# The callback hooks `fit` calls.
HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end",
)


class PhaseTimes:
    """Seconds per named phase, and per callback within `fit`.

    Example:
    ```python
    times = PhaseTimes()
    with times.phase("data"):
        splits = spec.splits()
    model.fit(x, callbacks=times.timed([checkpoint, images]))
    ```
    """

    def __init__(self):
        self.phases = {}
        self.callbacks = {}

    @contextlib.contextmanager
    def phase(self, name):
        """Add the seconds the `with` block takes to phase `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start

    def timed(self, callbacks):
        """`callbacks`, each wrapped so that its hooks' seconds are counted."""
        return [TimedCallback(callback, self.callbacks) for callback in callbacks]

    def summary(self, fit_phase="fit"):
        """The phases in seconds; `fit` is split into `training_steps` (what is left
        of it once the callbacks' seconds are taken out, tracing included) and
        `callbacks`, and `training_steps_fraction` is its share of the total.

        Returns:
            a JSON-able dict.
        """
        phases = {name: round(seconds, 2) for name, seconds in self.phases.items()}
        total = sum(self.phases.values())
        callback_seconds = sum(self.callbacks.values())
        if fit_phase in self.phases:
            steps = self.phases[fit_phase] - callback_seconds
            phases["training_steps"] = round(steps, 2)
            phases["callbacks"] = round(callback_seconds, 2)
        return {
            "seconds": phases,
            "callbacks": {name: round(s, 2) for name, s in self.callbacks.items()},
            "total_seconds": round(total, 2),
            "training_steps_fraction": round(phases.get("training_steps", 0.0) / total, 3)
            if total else None,
        }


def describe(summary):
    """One line: every phase's seconds and the training steps' share."""
    seconds = dict(summary["seconds"])
    seconds.pop("fit", None)
    parts = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    callbacks = ", ".join(f"{name} {value:.1f} s" for name, value in summary["callbacks"].items())
    fraction = summary["training_steps_fraction"]
    return (
        f"Wall time {summary['total_seconds']:.1f} s: {parts} (callbacks: {callbacks}); "
        f"training steps {100 * (fraction or 0):.0f}% of it."
    )


def is_default(method):
    """Whether a callback hook is Keras' own do-nothing default (Keras marks those)."""
    return getattr(method, "_is_default", False)


class TimedCallback(keras.callbacks.Callback):
    """A callback that runs another and adds its hooks' seconds to
    `seconds[type name]`. Hooks the wrapped callback leaves at Keras' default stay
    default, so Keras still dispatches batch hooks asynchronously where it can.

    Args:
        callback: the `keras.callbacks.Callback` to run.
        seconds: the dict to add to.
    """

    def __init__(self, callback, seconds):
        super().__init__()
        self.callback = callback
        self._seconds = seconds
        self._name = type(callback).__name__
        for hook in HOOKS:
            method = getattr(callback, hook)
            if not is_default(method):
                setattr(self, hook, self._timed(method))

    def _timed(self, method):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._seconds[self._name] = (
                    self._seconds.get(self._name, 0.0) + time.perf_counter() - start
                )

        return run

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)
