"""What the commands of `ganomaly-keras` share: the data spec from the options, the
model and its run's data, printing, and the score rows of `predict` and `evaluate`."""

import json
import os
import sys

SCORE_COLUMNS = ("path", "anomaly_score", "normalized_score", "is_anomaly")


def spec_from_args(args):
    from ganomaly_keras.data.spec import DataSpec

    source = "npz" if args.npz else "tfds" if args.tfds else "folder" if args.folder else "digits"
    return DataSpec(
        source=source,
        path=args.npz or args.folder,
        name=args.tfds,
        data_dir=args.tfds_data_dir,
        image_size=args.image_size or default_image_size(args),
        working_size=args.working_size or _default_working_size(args),
        channels=args.channels,
        abnormal_class=args.abnormal_class,
        normal_class=args.normal_class,
        contamination=args.contamination,
        seed=args.seed,
        validation_fraction=args.validation_fraction,
        on_error="skip" if args.skip_unreadable else "raise",
    )


def _default_working_size(args):
    from ganomaly_keras.training.defaults import INSPECTION_DEFAULTS

    return INSPECTION_DEFAULTS["working_size"] if getattr(args, "folder", None) else None


def default_image_size(args):
    from ganomaly_keras.training.defaults import IMAGE_SIZE, INSPECTION_DEFAULTS

    return INSPECTION_DEFAULTS["image_size"] if getattr(args, "folder", None) else IMAGE_SIZE


def data_given(args):
    return any([args.npz, args.tfds, args.folder])


def print_json(data):
    print(json.dumps(data, indent=2))


def report_skipped(skipped):
    """Print each skipped file, `(path, reason)`, with its reason."""
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)


def load(model_path):
    from ganomaly_keras.saving import load_model
    from ganomaly_keras.training.directory import resolve_model_path

    path = resolve_model_path(model_path)
    return path, load_model(path)


def spec_for(args, model, path):
    """The `DataSpec` of the run the model came from, unless data options say
    otherwise, at the model's size."""
    from ganomaly_keras.training.directory import load_run_spec

    run_dir = os.path.dirname(os.path.abspath(path))
    from_run = not data_given(args) and os.path.exists(os.path.join(run_dir, "config.json"))
    spec = load_run_spec(run_dir) if from_run else spec_from_args(args)
    spec.image_size, spec.channels = model.image_size, model.channels
    spec.working_size = model.working_size
    if args.skip_unreadable:
        spec.on_error = "skip"
    return spec


def open_output(path):
    """A CSV writer stream: the file at `path`, or stdout."""
    return open(path, "w", newline="") if path else sys.stdout


def score_row(path, outputs):
    return {
        "path": path,
        "anomaly_score": float(outputs["anomaly_score"]),
        "normalized_score": float(outputs["normalized_score"]),
        "is_anomaly": int(outputs["is_anomaly"]),
    }
