"""The `ganomaly-keras` command: train, evaluate, export, predict, benchmark.

    ganomaly-keras train                                # digits, digit 0 is the anomaly
    ganomaly-keras train --npz mnist.npz --abnormal-class 1 --run-dir runs/mnist1
    ganomaly-keras train --tfds fashion_mnist --tfds-data-dir ~/tfds
    ganomaly-keras train --folder mvtec/bottle --image-size 64 --channels 3
    ganomaly-keras evaluate runs/ganomaly
    ganomaly-keras export runs/ganomaly/model.keras runs/ganomaly/export
    ganomaly-keras predict runs/ganomaly images/ --out scores.csv
    ganomaly-keras benchmark [--mnist mnist.npz --digits 0 1 2 --epochs 3]

Bad input ends with one `ganomaly-keras: error: ...` line and exit status 2; pass
`--debug` for the traceback. The parser and its checks are in
`ganomaly_keras.cli.parser`; this module holds what each command does.
"""

import csv
import json
import os
import sys

from ganomaly_keras.backend import configure_tensorflow


def _spec_from_args(args):
    from ganomaly_keras.data.spec import DataSpec

    source = "npz" if args.npz else "tfds" if args.tfds else "folder" if args.folder else "digits"
    return DataSpec(
        source=source,
        path=args.npz or args.folder,
        name=args.tfds,
        data_dir=args.tfds_data_dir,
        image_size=args.image_size or _default_image_size(args),
        working_size=args.working_size,
        channels=args.channels,
        abnormal_class=args.abnormal_class,
        normal_class=args.normal_class,
        contamination=args.contamination,
        seed=args.seed,
        validation_fraction=args.validation_fraction,
        on_error="skip" if args.skip_unreadable else "raise",
    )


def _default_image_size(args):
    from ganomaly_keras.training.run import INSPECTION_DEFAULTS

    return INSPECTION_DEFAULTS["image_size"] if getattr(args, "folder", None) else 32


def _data_given(args):
    return any([args.npz, args.tfds, args.folder])


def _print_json(data):
    print(json.dumps(data, indent=2))


def _report_skipped(skipped):
    """Print each skipped file, `(path, reason)`, with its reason."""
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)


# --------------------------------------------------------------------- commands


def _training_budget(args):
    """`(epochs, steps, batch_size, score)`: as given, else the inspection defaults
    for a folder, else 15 epochs of 64 with the model's paper score."""
    from ganomaly_keras.training.run import INSPECTION_DEFAULTS

    inspecting = bool(args.folder)
    epochs, steps = args.epochs, args.steps  # both given: train_run refuses it
    if epochs is None and steps is None and inspecting:
        steps = INSPECTION_DEFAULTS["steps"]  # otherwise train_run's 15 epochs
    batch_size = args.batch_size or (INSPECTION_DEFAULTS["batch_size"] if inspecting else 64)
    score = args.score or (INSPECTION_DEFAULTS["score"] if inspecting else None)
    return epochs, steps, batch_size, score


def train(args):
    from ganomaly_keras.cli.parser import given_model_options, misplaced_model_options
    from ganomaly_keras.deploy.export import EXPORT_FORMATS
    from ganomaly_keras.training.run import train_run

    epochs, steps, batch_size, score = _training_budget(args)
    given = given_model_options(args)
    misplaced_model_options(given, args.model)
    if score is not None:
        given["score"] = score
    metrics = train_run(
        args.run_dir,
        _spec_from_args(args),
        given,
        detector=args.model,
        epochs=epochs,
        steps=steps,
        validation_every=args.validation_every,
        augment=args.augment,
        batch_size=batch_size,
        jit_compile=args.jit_compile,
        export_formats=() if args.no_export else (args.formats or EXPORT_FORMATS),
        overwrite=args.overwrite,
        verbose=args.verbose,
        deterministic=args.deterministic,
        strategy=args.strategy,
        precision=args.precision,
        steps_per_execution=args.steps_per_execution,
    )
    _print_json({k: metrics[k] for k in ("selected_epoch", "score", "validation", "test")})
    print(f"run directory: {args.run_dir}", file=sys.stderr)


def _load(model_path):
    from ganomaly_keras.training.directory import resolve_model_path
    from ganomaly_keras.saving import load_model

    path = resolve_model_path(model_path)
    return path, load_model(path)


def _splits_for(args, model, path):
    """The data of the run the model came from, unless data options say otherwise,
    at the model's size: `(spec, splits)`."""
    from ganomaly_keras.training.directory import load_run_spec

    run_dir = os.path.dirname(os.path.abspath(path))
    from_run = not _data_given(args) and os.path.exists(os.path.join(run_dir, "config.json"))
    spec = load_run_spec(run_dir) if from_run else _spec_from_args(args)
    spec.image_size, spec.channels = model.image_size, model.channels
    spec.working_size = model.working_size
    if args.skip_unreadable:
        spec.on_error = "skip"
    return spec, spec.splits()


def evaluate(args):
    from ganomaly_keras.metrics.evaluation import evaluate_detector

    path, model = _load(args.model)
    spec, splits = _splits_for(args, model, path)
    split = splits[args.split]
    skipped = splits.get("skipped", {}).get(args.split, [])
    _report_skipped((item["path"], item["reason"]) for item in skipped)
    result = evaluate_detector(model, split.images, split.labels, masks=split.masks)
    result.pop("scores")
    if args.scores:
        _write_scores(args.scores, model, split)
    _print_json({
        "model": path, "split": args.split, "data": spec.to_dict(), **result,
        "skipped_files": skipped,
    })


def _write_scores(path, model, split):
    """One CSV row per image of an evaluated split: path, the served outputs, label.
    Images of array sources have no file: their path is `<split>[index]`."""
    outputs = model.calibrated_outputs(split.images)
    names = split.paths or tuple(f"image[{i}]" for i in range(len(split.labels)))
    with _open_output(path) as stream:
        writer = csv.DictWriter(stream, fieldnames=SCORE_COLUMNS + ("label",))
        writer.writeheader()
        for i, name in enumerate(names):
            row = _score_row(name, {k: v[i] for k, v in outputs.items()})
            writer.writerow(dict(row, label=int(split.labels[i])))


def export(args):
    from ganomaly_keras.deploy.export import export_model, supported_formats

    path, model = _load(args.model)
    formats = args.formats or supported_formats(model)
    run_dir = os.path.dirname(os.path.abspath(path))
    known_data = _data_given(args) or os.path.exists(os.path.join(run_dir, "config.json"))
    splits = None
    if "tflite_int8" in formats or known_data:
        _, splits = _splits_for(args, model, path)
    paths = export_model(
        model, args.out, formats=formats,
        representative_data=splits["train_sample"] if splits else None,
        # The data the model came from, so that verify_export tests it on its own
        # test split (without it, verify_export falls back to the digits).
        training_data=splits["summary"] if splits and known_data else None,
    )
    _print_json(paths)


SCORE_COLUMNS = ("path", "anomaly_score", "normalized_score", "is_anomaly")


def _open_output(path):
    """A CSV writer stream: the file at `path`, or stdout."""
    return open(path, "w", newline="") if path else sys.stdout


def predict(args):
    """Score image files (a file, a folder, or a folder of folders) in batches, read
    by the one image path the model was trained and calibrated through."""
    from ganomaly_keras.data.images import image_files
    from ganomaly_keras.deploy.serving import score_files

    path, model = _load(args.model)
    if model.calibration is None:
        raise ValueError(f"{path} has no threshold; calibrate it (train does) first.")
    files = image_files(args.images)
    scored = flagged = 0
    skipped = []
    stream = _open_output(args.out)
    try:
        writer = csv.DictWriter(stream, fieldnames=SCORE_COLUMNS + ("skipped",))
        writer.writeheader()
        on_error = "skip" if args.skip_unreadable else "raise"
        for file, outputs, reason in score_files(model, files, args.batch_size, on_error):
            if outputs is None:
                skipped.append((file, reason))
                writer.writerow({"path": file, "skipped": reason})
                continue
            row = _score_row(file, outputs)
            scored += 1
            flagged += row["is_anomaly"]
            writer.writerow(row)
    finally:
        if args.out:
            stream.close()
    _report_skipped(skipped)
    print(f"scored {scored} images, {flagged} anomalous, {len(skipped)} skipped",
          file=sys.stderr)


def _score_row(path, outputs):
    return {
        "path": path,
        "anomaly_score": float(outputs["anomaly_score"]),
        "normalized_score": float(outputs["normalized_score"]),
        "is_anomaly": int(outputs["is_anomaly"]),
    }


def benchmark(args):
    if args.kind == "quality":
        return quality_benchmark(args)
    if args.kind == "folder":
        return folder_benchmark(args)
    from benchmarks.speed import run_benchmark
    from benchmarks.speed_report import markdown_report

    report = run_benchmark(
        out_dir=args.out_dir or "runs/benchmark", pairs=args.pairs,
        training_steps=args.steps or 10, training_rounds=args.rounds,
        precisions=args.precisions, against_torch=args.against_torch, mnist=args.mnist,
        digits=args.digits, epochs=args.epochs, jit_compile=args.jit_compile,
        steps_per_execution=args.steps_per_execution, skip_training=args.skip_training,
        skip_latency=args.skip_latency,
    )
    if args.out:
        from ganomaly_keras.saving import write_json_atomically

        write_json_atomically(args.out, report)
    _print_json(report)
    print(markdown_report(report))


def folder_benchmark(args):
    from benchmarks.folder_streaming import markdown_table, run_folder_benchmark

    out_dir = args.out_dir or "runs/folder_benchmark"
    report = run_folder_benchmark(
        args.work_dir or os.path.join(out_dir, "data"), out_dir, images=args.images,
        steps=args.steps or 100, batch_size=args.batch_size or 64, pairs=args.pairs,
    )
    print(markdown_table(report))


def quality_benchmark(args):
    from ganomaly_keras.training.quality_suite import markdown_table, run_quality_benchmark
    from ganomaly_keras.training.run import INSPECTION_DEFAULTS

    if not args.folder_suite:
        raise ValueError("benchmark quality needs --folder-suite DIR (e.g. PIPED's folder).")
    report = run_quality_benchmark(
        args.folder_suite,
        args.out_dir or "runs/quality",
        detector=args.model,
        model_options={"score": args.score} if args.score else None,
        steps=args.steps or INSPECTION_DEFAULTS["steps"],
        image_size=args.image_size or INSPECTION_DEFAULTS["image_size"],
        batch_size=args.batch_size or INSPECTION_DEFAULTS["batch_size"],
        augment=args.augment,
        folders=args.folders,
        working_size=args.working_size,
    )
    print(markdown_table(report))


COMMANDS = {
    "train": train, "evaluate": evaluate, "export": export, "predict": predict,
    "benchmark": benchmark,
}


def main(argv=None):
    """Run the `ganomaly-keras` command line; returns the exit status."""
    configure_tensorflow()  # before anything imports TensorFlow
    from ganomaly_keras.cli.parser import build_parser, check_paths

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "image_size", None) is not None:
            from ganomaly_keras.networks.layers import validate_image_size

            validate_image_size(args.image_size)
        check_paths(args)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    from ganomaly_keras.training.directory import RunError

    try:
        COMMANDS[args.command_name](args)
    except (ValueError, FileNotFoundError, RuntimeError, RunError, OSError) as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"ganomaly-keras: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
