"""A run's settings: every `train_run` argument checked, and the config.json they make.

`run_config` raises a `ValueError` that names the argument before anything is read or
written; what it returns is the dict a run directory stores as config.json, which
`ganomaly_keras.training.directory.check_resumable` compares to decide whether an interrupted
run may resume.
"""

from ganomaly_keras import arguments
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.deploy.export import EXPORT_FORMATS
from ganomaly_keras.models import registry
from ganomaly_keras.models.registry import DETECTORS
from ganomaly_keras.training.callbacks import training_budget
from ganomaly_keras.training.precision import resolve_precision


def run_config(
    spec, model_options, detector, epochs, steps, validation_every, batch_size, jit_compile,
    export_formats, augment, deterministic, precision, steps_per_execution=1,
):
    """The checked settings of a run.

    Args:
        spec: a `DataSpec`.
        model_options: dict of the detector's constructor options, or None.
        detector: a name in `DETECTORS`.
        epochs: passes over the data, or None with `steps`.
        steps: updates instead of epochs, or None.
        validation_every: with steps, the cadence of validation and checkpoints.
        batch_size: images per update, a positive integer.
        jit_compile: "auto", True or False.
        export_formats: names in `EXPORT_FORMATS`.
        augment: bool, augment training batches.
        deterministic: bool, bit-identical training.
        precision: "float32", "mixed_bfloat16", "mixed_float16" or "auto".
        steps_per_execution: training steps per call into TensorFlow; with `steps`,
            the budget and `validation_every` must be multiples of it.

    Returns:
        `(config, budget)`: the config.json dict (data, detector, model, training,
        export_formats; precision resolved to a dtype policy) and `(epochs,
        steps_per_epoch)` for `fit` (`ganomaly_keras.training.callbacks.training_budget`).

    Raises:
        ValueError: naming the first bad argument and what it accepts.
    """
    if epochs is None and steps is None:
        epochs = 15
    budget = training_budget(epochs, steps, validation_every)
    batch_size = arguments.positive_integer("batch_size", batch_size)
    arguments.choice("detector", detector, sorted(DETECTORS))
    arguments.choice("jit_compile", jit_compile, ("auto", True, False))
    policy = resolve_precision(precision)
    if policy == "mixed_float16":
        raise ValueError(
            "mixed_float16 training is not supported yet: the two-optimizer step does "
            "not scale its losses. Use precision='float32' or 'mixed_bfloat16'."
        )
    steps_per_execution = arguments.positive_integer("steps_per_execution", steps_per_execution)
    if steps is not None:
        # Keras runs whole groups of steps on a repeated dataset: an epoch or budget
        # that is not a multiple of the group would overshoot.
        for name, value in (("steps", steps), ("validation_every", budget[1])):
            if value % steps_per_execution:
                raise ValueError(
                    f"{name} ({value}) must be a multiple of steps_per_execution "
                    f"({steps_per_execution}): Keras runs whole groups of steps. Choose "
                    "a multiple, or steps_per_execution=1."
                )
    for name in export_formats:
        arguments.choice("export format", name, EXPORT_FORMATS)
    if not isinstance(spec, DataSpec):
        raise ValueError(f"spec must be a ganomaly_keras.data.spec.DataSpec; got {spec!r}.")
    options = dict(model_options or {})
    allowed = tuple(registry.model_options(detector))
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"{detector} has no options {sorted(unknown)}; it takes {allowed}.")
    config = {
        "data": spec.to_dict(),
        "detector": detector,
        "model": options,
        "training": {
            "epochs": epochs, "steps": steps, "validation_every": budget[1],
            "batch_size": batch_size, "jit_compile": jit_compile, "augment": bool(augment),
            "deterministic": bool(deterministic),
            "precision": precision, "dtype_policy": policy,
        },
        "export_formats": list(export_formats),
    }
    if steps_per_execution != 1:
        # Only when set: the config of a run from before this option stays equal
        # to what the same call makes now, so that run can still resume.
        config["training"]["steps_per_execution"] = steps_per_execution
    return config, budget
