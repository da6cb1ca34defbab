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
`--debug` for the traceback.
"""

import argparse
import csv
import json
import os
import sys

from ganomaly_keras import arguments

# argparse types that run the library's own checks (ganomaly_keras.arguments).
POSITIVE = arguments.cli_type(arguments.positive_integer, int)
COUNT = arguments.cli_type(arguments.integer, int, minimum=0)
WEIGHT = arguments.cli_type(arguments.weight)
FRACTION = arguments.cli_type(arguments.fraction)
SEED = arguments.cli_type(arguments.seed, int)


def _add_data_options(parser, required=False):
    group = parser.add_argument_group("data (scikit-learn digits when none is given)")
    source = group.add_mutually_exclusive_group(required=required)
    source.add_argument("--npz", help="an .npz in Keras' layout (x_train, y_train, ...)")
    source.add_argument("--tfds", metavar="NAME", help="a tensorflow-datasets image dataset")
    source.add_argument("--folder", help="an MVTec-AD or reference-layout image folder")
    group.add_argument("--tfds-data-dir", help="tfds data folder")
    group.add_argument("--image-size", type=POSITIVE, default=None,
                       help="the model's input side, a power of two >= 16 "
                       "(default 32; 64 with --folder)")
    group.add_argument("--channels", type=int, choices=(1, 3), default=None,
                       help="1 or 3 (default: 1; a tfds dataset's own; a folder's "
                       "first training image decides)")
    group.add_argument("--working-size", type=POSITIVE, default=None,
                       help="score images at this side with overlapping tiles of "
                       "--image-size (training takes random patches); a multiple of "
                       "half the image size, e.g. 128 for 64")
    group.add_argument("--abnormal-class", type=COUNT, default=0,
                       help="leave-one-class-out: the anomaly class (default 0)")
    group.add_argument("--normal-class", type=COUNT, default=None,
                       help="one-class protocol: the only normal class")
    group.add_argument("--contamination", type=FRACTION, default=0.0,
                       help="fraction of anomalies mixed into training (0..1)")
    group.add_argument("--validation-fraction", type=FRACTION, default=0.1)
    group.add_argument("--seed", type=SEED, default=0)
    group.add_argument("--skip-unreadable", action="store_true",
                       help="folders: skip corrupt images with a warning")


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
    from ganomaly_keras.run import INSPECTION_DEFAULTS

    return INSPECTION_DEFAULTS["image_size"] if getattr(args, "folder", None) else 32


def _data_given(args):
    return any([args.npz, args.tfds, args.folder])


def _print_json(data):
    print(json.dumps(data, indent=2))


# --------------------------------------------------------------------- commands


def _training_budget(args):
    """`(epochs, steps, batch_size, score)`: as given, else the inspection defaults
    for a folder, else 15 epochs of 64 with the model's paper score."""
    from ganomaly_keras.run import INSPECTION_DEFAULTS

    inspecting = bool(args.folder)
    epochs, steps = args.epochs, args.steps  # both given: train_run refuses it
    if epochs is None and steps is None and inspecting:
        steps = INSPECTION_DEFAULTS["steps"]  # otherwise train_run's 15 epochs
    batch_size = args.batch_size or (INSPECTION_DEFAULTS["batch_size"] if inspecting else 64)
    score = args.score or (INSPECTION_DEFAULTS["score"] if inspecting else None)
    return epochs, steps, batch_size, score


def train(args):
    from ganomaly_keras.export import EXPORT_FORMATS
    from ganomaly_keras.run import MODEL_OPTIONS, train_run

    epochs, steps, batch_size, score = _training_budget(args)
    given = {
        "latent_size": args.latent_size,
        "width": args.width,
        "extra_layers": args.extra_layers,
        "adversarial_weight": args.adversarial_weight,
        "contextual_weight": args.contextual_weight,
        "encoder_weight": args.encoder_weight,
        "score": score,
        "map_smoothing": args.map_smoothing,
        "latent_weight": args.latent_weight,
        "critic_steps": args.critic_steps,
        "latent_norm_weight": args.latent_norm_weight,
        "search_steps": args.search_steps,
    }
    options = MODEL_OPTIONS[args.model]
    misplaced = [k for k, v in given.items() if v is not None and k not in options]
    if misplaced:
        raise ValueError(
            f"--{misplaced[0].replace('_', '-')} does not apply to --model {args.model}."
        )
    metrics = train_run(
        args.run_dir,
        _spec_from_args(args),
        {k: v for k, v in given.items() if v is not None},
        detector=args.model,
        epochs=epochs,
        steps=steps,
        validation_every=args.validation_every,
        augment=args.augment,
        batch_size=batch_size,
        jit_compile=args.jit_compile,
        export_formats=() if args.no_export else EXPORT_FORMATS,
        overwrite=args.overwrite,
        verbose=args.verbose,
        deterministic=args.deterministic,
        strategy=args.strategy,
    )
    _print_json({k: metrics[k] for k in ("selected_epoch", "score", "validation", "test")})
    print(f"run directory: {args.run_dir}", file=sys.stderr)


def _spec_for(args, model_path):
    """The data of the run the model came from, unless data options say otherwise."""
    from ganomaly_keras.run import load_run_spec

    if _data_given(args):
        return _spec_from_args(args)
    run_dir = os.path.dirname(os.path.abspath(model_path))
    if os.path.exists(os.path.join(run_dir, "config.json")):
        return load_run_spec(run_dir)
    return _spec_from_args(args)


def _load(model_path):
    from ganomaly_keras.run import resolve_model_path
    from ganomaly_keras.saving import load_model

    path = resolve_model_path(model_path)
    return path, load_model(path)


def evaluate(args):
    from ganomaly_keras.evaluation import evaluate_detector

    path, model = _load(args.model)
    spec = _spec_for(args, path)
    spec.image_size, spec.channels = model.image_size, model.channels
    spec.working_size = model.working_size
    if args.skip_unreadable:
        spec.on_error = "skip"
    splits = spec.splits()
    split = splits[args.split]
    skipped = splits.get("skipped", {}).get(args.split, [])
    for item in skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    result = evaluate_detector(model, split.images, split.labels, masks=split.masks)
    result.pop("scores")
    _print_json({
        "model": path, "split": args.split, "data": spec.to_dict(), **result,
        "skipped_files": skipped,
    })


def export(args):
    from ganomaly_keras.export import export_model, supported_formats

    path, model = _load(args.model)
    formats = args.formats or supported_formats(model)
    run_dir = os.path.dirname(os.path.abspath(path))
    known_data = _data_given(args) or os.path.exists(os.path.join(run_dir, "config.json"))
    splits = None
    if "tflite_int8" in formats or known_data:
        spec = _spec_for(args, path)
        spec.image_size, spec.channels = model.image_size, model.channels
        spec.working_size = model.working_size
        splits = spec.splits()
    paths = export_model(
        model, args.out, formats=formats,
        representative_data=splits["train_sample"] if splits else None,
        # The data the model came from, so that verify_export tests it on its own
        # test split (without it, verify_export falls back to the digits).
        training_data=splits["summary"] if splits and known_data else None,
    )
    _print_json(paths)


def _report_skipped(skipped):
    for item in skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)


def predict(args):
    import numpy as np

    from ganomaly_keras.data.folders import decode_files, list_images

    path, model = _load(args.model)
    fitted = model.calibration
    if fitted is None:
        raise ValueError(f"{path} has no threshold; calibrate it (train does) first.")
    files = list_images(args.images) if os.path.isdir(args.images) else [args.images]
    on_error = "skip" if args.skip_unreadable else "raise"
    decoded = decode_files(files, model.input_size, model.channels, on_error)
    scores = np.asarray(model.predict(decoded.images, batch_size=256, verbose=0))
    span = max(fitted.score_max - fitted.score_min, 1e-12)
    normalized = np.clip((scores - fitted.score_min) / span, 0.0, 1.0)
    rows = {
        files[i]: {
            "path": files[i],
            "anomaly_score": float(s),
            "normalized_score": float(n),
            "is_anomaly": int(s > fitted.threshold),
            "skipped": "",
        }
        for i, s, n in zip(decoded.kept, scores, normalized)
    }
    for item in decoded.skipped:  # one row per input file, in the folder's order
        rows[item.path] = {
            "path": item.path, "anomaly_score": "", "normalized_score": "",
            "is_anomaly": "", "skipped": item.reason,
        }
    rows = [rows[f] for f in files]
    stream = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if args.out:
            stream.close()
    _report_skipped(decoded.skipped)
    flagged = sum(r["is_anomaly"] == 1 for r in rows)
    print(
        f"scored {len(decoded.kept)} images, {flagged} anomalous, "
        f"{len(decoded.skipped)} skipped",
        file=sys.stderr,
    )


def benchmark(args):
    if args.kind == "quality":
        return quality_benchmark(args)
    if args.kind == "folder":
        return folder_benchmark(args)
    from ganomaly_keras.benchmark import markdown_report, run_benchmark

    report = run_benchmark(
        training_steps=args.steps or 30,
        mnist=args.mnist,
        digits=args.digits,
        epochs=args.epochs,
        jit_compile=args.jit_compile,
        skip_training=args.skip_training,
    )
    if args.out:
        from ganomaly_keras.saving import write_json_atomically

        write_json_atomically(args.out, report)
    _print_json(report)
    print(markdown_report(report))


def folder_benchmark(args):
    from ganomaly_keras.folder_benchmark import markdown_table, run_folder_benchmark

    out_dir = args.out_dir if args.out_dir != "runs/quality" else "runs/folder_benchmark"
    report = run_folder_benchmark(
        args.work_dir or os.path.join(out_dir, "data"), out_dir, images=args.images,
        steps=args.steps or 100, batch_size=args.batch_size or 64, pairs=args.pairs,
    )
    print(markdown_table(report))


def quality_benchmark(args):
    from ganomaly_keras.quality_benchmark import markdown_table, run_quality_benchmark
    from ganomaly_keras.run import INSPECTION_DEFAULTS

    if not args.folder_suite:
        raise ValueError("benchmark quality needs --folder-suite DIR (e.g. PIPED's folder).")
    report = run_quality_benchmark(
        args.folder_suite,
        args.out_dir,
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


# ----------------------------------------------------------------------- parser


def _jit(value):
    lowered = value.lower()
    if lowered not in ("auto", "true", "false"):
        raise argparse.ArgumentTypeError("use auto, true or false")
    return {"auto": "auto", "true": True, "false": False}[lowered]


class _Parser(argparse.ArgumentParser):
    """argparse with the package's one-line errors: `ganomaly-keras: error: ...`."""

    def error(self, message):
        self.exit(2, f"ganomaly-keras: error: {message} (see {self.prog} --help)\n")


# Options naming files or folders that must exist, and outputs that must not be
# something else already (a folder where a file goes, or the reverse).
_INPUT_PATHS = ("npz", "folder", "mnist", "folder_suite")
_OUTPUT_FOLDERS = ("run_dir", "out_dir")


def check_paths(args):
    """Refuse missing inputs and outputs that cannot be written, before any work.

    Raises:
        ValueError or FileNotFoundError naming the option and the path.
    """
    for name in _INPUT_PATHS + (("images",) if args.command == "predict" else ()):
        path = getattr(args, name, None)
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(f"--{name.replace('_', '-')} {path!r} does not exist.")
    for name in _OUTPUT_FOLDERS + (("out",) if args.command == "export" else ()):
        path = getattr(args, name, None)
        if path is not None and os.path.exists(path) and not os.path.isdir(path):
            option = "OUT" if name == "out" else f"--{name.replace('_', '-')}"
            raise ValueError(f"{option} {path!r} is a file; give a folder path.")
    out = getattr(args, "out", None)
    if out is not None and args.command in ("predict", "benchmark"):
        if os.path.isdir(out):
            raise ValueError(f"--out {out!r} is a folder; give a file path.")
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise FileNotFoundError(
                f"--out {out!r}: its folder {parent!r} does not exist; create it first."
            )


def build_parser():
    from ganomaly_keras import __version__
    from ganomaly_keras.export import EXPORT_FORMATS

    parser = _Parser(
        prog="ganomaly-keras", description="GANomaly anomaly detection with Keras 3."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train, select, calibrate, test and export")
    _add_data_options(p)
    p.add_argument("--run-dir", default="runs/ganomaly")
    budget = p.add_argument_group(
        "training budget (default: 15 epochs of 64; with --folder, 150 steps of 32)"
    )
    budget.add_argument("--epochs", type=POSITIVE, default=None)
    budget.add_argument("--steps", type=POSITIVE, default=None,
                        help="train for exactly this many updates instead of epochs")
    budget.add_argument("--validation-every", type=POSITIVE, default=None,
                        help="with --steps: validate and checkpoint every N steps "
                        "(default: a fifth of the steps)")
    budget.add_argument("--batch-size", type=POSITIVE, default=None)
    budget.add_argument("--augment", action="store_true",
                        help="flips, 90-degree rotations, brightness and contrast: "
                        "for textures and surfaces, not for oriented objects")
    p.add_argument(
        "--model",
        choices=("ganomaly", "skip_ganomaly", "simultaneous_encoder_gan", "egbad", "anogan"),
        default="ganomaly",
    )
    model = p.add_argument_group("model options (the model's defaults when not given)")
    model.add_argument("--latent-size", type=POSITIVE, help="nz (100)")
    model.add_argument("--width", type=POSITIVE, help="base channel count (64)")
    model.add_argument("--extra-layers", type=COUNT)
    model.add_argument("--adversarial-weight", type=WEIGHT, help="(1)")
    model.add_argument("--contextual-weight", type=WEIGHT, help="(50)")
    model.add_argument("--encoder-weight", type=WEIGHT, help="ganomaly: latent L2 (1)")
    model.add_argument("--latent-weight", type=WEIGHT, help="skip_ganomaly: feature L2 (1)")
    model.add_argument("--score", help="auto (the best on validation; default with "
                       "--folder), a map term (residual_max, residual_topk, "
                       "feature_max, standardized_max, standardized_sum) or a paper "
                       "score (ganomaly: latent_mse, latent_l1; "
                       "simultaneous_encoder_gan: combined, latent_norm, residual; "
                       "others: paper)")
    model.add_argument("--map-smoothing", type=POSITIVE,
                       help="box filter of the map scores (3)")
    model.add_argument("--critic-steps", type=POSITIVE, help="simultaneous_encoder_gan (5)")
    model.add_argument("--search-steps", type=POSITIVE, help="anogan: latent search steps (100)")
    model.add_argument("--latent-norm-weight", type=WEIGHT,
                       help="simultaneous_encoder_gan: weight of ||E(x)|| in combined (0.5)")
    p.add_argument("--jit-compile", type=_jit, default="auto", help="auto, true or false")
    p.add_argument("--deterministic", action="store_true",
                   help="bit-identical weights and scores for the same seed, data and "
                   "machine (TensorFlow op determinism; slower)")
    p.add_argument("--strategy", choices=("default", "mirrored", "multi_worker"),
                   default="default",
                   help="mirrored: every local GPU; multi_worker: the processes of "
                   "TF_CONFIG (README, 'More than one process')")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in a run directory that holds another run")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    p.set_defaults(handler=train)

    p = commands.add_parser("evaluate", help="AUROC, AUPR and F1 of a saved model")
    p.add_argument("model", help="a .keras file or a run directory")
    p.add_argument("--split", choices=("validation", "test"), default="test")
    _add_data_options(p)
    p.set_defaults(handler=evaluate)

    p = commands.add_parser("export", help="write every export format of a saved model")
    p.add_argument("model", help="a calibrated .keras file or a run directory")
    p.add_argument("out", help="the export folder")
    p.add_argument("--formats", nargs="+", choices=EXPORT_FORMATS,
                   help="default: every format the model supports")
    _add_data_options(p)
    p.set_defaults(handler=export)

    p = commands.add_parser("predict", help="score an image or a folder, write CSV")
    p.add_argument("model", help="a calibrated .keras file or a run directory")
    p.add_argument("images", help="an image file or a folder of images")
    p.add_argument("--out", help="CSV file (default: stdout)")
    p.add_argument("--skip-unreadable", action="store_true")
    p.set_defaults(handler=predict)

    p = commands.add_parser(
        "benchmark",
        help="speed (training, FLOPs, latency, MNIST AUROC), quality (image and "
        "pixel metrics on a suite of inspection folders) or folder (memory and speed "
        "of streaming a large folder)",
    )
    p.add_argument("kind", nargs="?", choices=("speed", "quality", "folder"), default="speed")
    p.add_argument("--images", type=POSITIVE, default=50_000,
                   help="folder: PNG files to generate (50000)")
    p.add_argument("--pairs", type=POSITIVE, default=3,
                   help="folder: streamed / in-memory measurement pairs, alternating (3)")
    p.add_argument("--work-dir", help="folder: where the generated images live "
                   "(default OUT_DIR/data; reused by reruns)")
    p.add_argument("--steps", type=POSITIVE, default=None,
                   help="speed: timed training steps per shape (30); quality: "
                   "training steps per folder (150)")
    p.add_argument("--folder-suite", help="quality: a folder of MVTec-layout folders")
    p.add_argument("--folders", nargs="+", help="quality: only these folders")
    p.add_argument("--model", default="ganomaly",
                   choices=("ganomaly", "skip_ganomaly", "simultaneous_encoder_gan",
                            "egbad", "anogan"), help="quality: the detector")
    p.add_argument("--score", help="quality: a score term, or auto (default)")
    p.add_argument("--image-size", type=POSITIVE, help="quality: model input side (64)")
    p.add_argument("--working-size", type=POSITIVE,
                   help="quality: score at this side over tiles of --image-size")
    p.add_argument("--batch-size", type=POSITIVE, help="quality: batch (32)")
    p.add_argument("--augment", action="store_true", help="quality: texture augmentations")
    p.add_argument("--out-dir", default="runs/quality",
                   help="quality: runs, results.json and results.md (folder: "
                   "default runs/folder_benchmark)")
    p.add_argument("--mnist", help="mnist.npz: also run the paper's protocol")
    p.add_argument("--digits", type=arguments.cli_type(arguments.integer, int, minimum=0, maximum=9),
                   nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=POSITIVE, default=3)
    p.add_argument("--jit-compile", type=_jit, default=False)
    p.add_argument("--skip-training", action="store_true",
                   help="latency only: no training throughput measurement")
    p.add_argument("--out", help="also write the JSON report here")
    p.set_defaults(handler=benchmark)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "image_size", None) is not None:
            from ganomaly_keras.networks.layers import validate_image_size

            validate_image_size(args.image_size)
        check_paths(args)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    import ganomaly_keras  # noqa: F401  (backend options before TensorFlow loads)
    from ganomaly_keras.run import RunError

    try:
        args.handler(args)
    except (ValueError, FileNotFoundError, RuntimeError, RunError, OSError) as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"ganomaly-keras: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
