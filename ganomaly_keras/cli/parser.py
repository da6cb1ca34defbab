"""The `ganomaly-keras` command line: its parser and options (their checks:
`ganomaly_keras.cli.checks`).

The model options of `train` are read from the detectors' constructors
(`ganomaly_keras.models.options`, a table kept equal to the constructors by a test, so
the parser imports no TensorFlow): every constructor argument a user may
set is a flag, with the type of its default and the help of its docstring. A flag
given for a detector whose constructor does not take it is refused by name
(`misplaced_model_options`).
"""

import argparse

from ganomaly_keras import arguments
from ganomaly_keras.deploy.metadata import EXPORT_FORMATS
from ganomaly_keras.models.options import DETECTOR_NAMES, OPTIONS
from ganomaly_keras.training.precision import PRECISIONS

# argparse types that run the library's own checks (ganomaly_keras.arguments).
POSITIVE = arguments.cli_type(arguments.positive_integer, int)
COUNT = arguments.cli_type(arguments.integer, int, minimum=0)
WEIGHT = arguments.cli_type(arguments.weight)
FRACTION = arguments.cli_type(arguments.fraction)
SEED = arguments.cli_type(arguments.seed, int)
SCORE_HELP = (
    "auto (chosen on validation; default with --folder), a map term (residual_max, "
    "residual_topk, feature_max, standardized_max, standardized_sum, ssim_max, msgms_max; "
    "with --segmentation-head: segmentation_max, segmentation_topk) or a paper score "
    "(ganomaly: latent_mse, latent_l1; simultaneous_encoder_gan: combined, "
    "latent_norm, residual; others: paper)"
)


def _boolean(value):
    lowered = value.lower()
    if lowered not in ("true", "false", "yes", "no", "1", "0"):
        raise argparse.ArgumentTypeError("use true or false")
    return lowered in ("true", "yes", "1")


def _option_type(default):
    if isinstance(default, bool):
        return _boolean
    if not isinstance(default, (int, float)):
        return str
    if isinstance(default, int):
        return COUNT if default == 0 else POSITIVE
    return WEIGHT


def add_model_options(parser, title="model options (the model's defaults when not given)"):
    """One flag per detector option (`ganomaly_keras.models.options.OPTIONS`)."""

    group = parser.add_argument_group(title)
    for name, (default, detectors, text) in OPTIONS.items():
        only = "" if len(detectors) == len(DETECTOR_NAMES) else ", ".join(detectors) + ": "
        group.add_argument(
            "--" + name.replace("_", "-"), type=_option_type(default), default=None,
            help=SCORE_HELP if name == "score" else (only + text).replace("%", "%%"),
        )


def given_model_options(args):
    """`{option: value}` of the model flags given on the command line."""
    return {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}


def misplaced_model_options(given, detector):
    """Raise ValueError naming the first of `given` that `detector` does not take."""
    misplaced = [k for k in given if detector not in OPTIONS[k][1]]
    if misplaced:
        raise ValueError(
            f"--{misplaced[0].replace('_', '-')} does not apply to --model {detector}."
        )


def add_data_options(parser, required=False):
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
    group.add_argument("--working-size", type=_working_size, default=None,
                       help="score images of this size (SIDE or WIDTHxHEIGHT) with "
                       "overlapping tiles of --image-size, training on random "
                       "patches: each side a multiple of half the image size, e.g. "
                       "256x640 for 64; auto (the default with --folder): the "
                       "training images' median size, aspect ratio kept, long side "
                       "at most 640")
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


def _working_size(value):
    """`--working-size`: "auto", a side, or WIDTHxHEIGHT as `(height, width)`; the
    tile grid is checked with the image size (`DataSpec`)."""
    if value.lower() == "auto":
        return "auto"
    parts = value.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a working size: give a side (128), WIDTHxHEIGHT (256x640) "
            "or auto"
        )
    numbers = [int(p) for p in parts]
    return numbers[0] if len(numbers) == 1 else (numbers[1], numbers[0])


def _jit(value):
    lowered = value.lower()
    if lowered not in ("auto", "true", "false"):
        raise argparse.ArgumentTypeError("use auto, true or false")
    return {"auto": "auto", "true": True, "false": False}[lowered]


class Parser(argparse.ArgumentParser):
    """argparse with the package's one-line errors: `ganomaly-keras: error: ...`."""

    def error(self, message):
        self.exit(2, f"ganomaly-keras: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The `ganomaly-keras` parser; each command sets `args.command_name`."""
    from ganomaly_keras import __version__

    parser = Parser(
        prog="ganomaly-keras", description="GANomaly anomaly detection with Keras 3."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train, select, calibrate, test and export")
    add_data_options(p)
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
        choices=DETECTOR_NAMES,
        default="ganomaly",
    )
    add_model_options(p)
    p.add_argument("--jit-compile", type=_jit, default="auto", help="auto, true or false")
    p.add_argument("--steps-per-execution", type=POSITIVE, default=1,
                   help="training steps per call into TensorFlow (1); with --steps, "
                   "the steps and --validation-every must be multiples of it")
    p.add_argument("--deterministic", action="store_true",
                   help="bit-identical weights and scores for the same seed, data and "
                   "machine (TensorFlow op determinism; slower)")
    p.add_argument("--strategy", choices=("default", "mirrored", "multi_worker"),
                   default="default",
                   help="mirrored: every local GPU; multi_worker: the processes of "
                   "TF_CONFIG (docs/cli.md, 'More than one process')")
    p.add_argument(
        "--precision", choices=PRECISIONS, default="float32",
        help="training precision (float32); auto: mixed_bfloat16 on a CPU with "
        "AVX512_BF16 or AMX, float32 otherwise (mixed_float16 is refused for now)",
    )
    exporting = p.add_mutually_exclusive_group()
    exporting.add_argument("--formats", nargs="+", choices=EXPORT_FORMATS,
                           help="export only these formats (default: every format "
                           "the model supports)")
    exporting.add_argument("--no-export", action="store_true")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in a run directory that holds another run")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    p.set_defaults(command_name="train")

    p = commands.add_parser("evaluate", help="AUROC, AUPR and F1 of a saved model")
    p.add_argument("model", help="a .keras file or a run directory")
    p.add_argument("--split", choices=("validation", "test"), default="test")
    p.add_argument("--scores", metavar="CSV",
                   help="also write one row per image: path, anomaly_score, "
                   "normalized_score, is_anomaly, label")
    p.add_argument("--batch-size", type=POSITIVE, default=64,
                   help="folder images decoded and scored together (64)")
    add_data_options(p)
    p.set_defaults(command_name="evaluate")

    p = commands.add_parser("export", help="write every export format of a saved model")
    p.add_argument("model", help="a calibrated .keras file or a run directory")
    p.add_argument("out", help="the export folder")
    p.add_argument("--formats", nargs="+", choices=EXPORT_FORMATS,
                   help="default: every format the model supports")
    add_data_options(p)
    p.set_defaults(command_name="export")

    p = commands.add_parser("predict", help="score an image or a folder, write CSV")
    p.add_argument("model", help="a calibrated .keras file or a run directory")
    p.add_argument("images", help="an image file, a folder of images, or a folder of "
                   "such folders (e.g. an MVTec-layout test/ folder)")
    p.add_argument("--out", help="CSV file (default: stdout)")
    p.add_argument("--batch-size", type=POSITIVE, default=64,
                   help="images decoded and scored together (64)")
    p.add_argument("--skip-unreadable", action="store_true")
    p.set_defaults(command_name="predict")

    p = commands.add_parser(
        "preview-defects",
        help="a grid of synthetic defects on a folder's normal images (PNG)",
    )
    p.add_argument("folder", help="an MVTec-layout or reference-layout folder")
    p.add_argument("--out", required=True, help="the PNG file to write")
    p.add_argument("--count", type=POSITIVE, default=8, help="images (rows) in the grid")
    p.add_argument("--size", type=POSITIVE, default=128, help="side the images are shown at")
    p.add_argument("--seed", type=SEED, default=0)
    p.set_defaults(command_name="preview_defects")

    p = commands.add_parser("report", help="rebuild a finished run's report.html")
    p.add_argument("run_dir", help="the run directory")
    p.set_defaults(command_name="report")

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
                   help="speed (scoring latency) and folder: rounds of alternating "
                   "measurements in fresh processes (3)")
    p.add_argument("--rounds", type=POSITIVE, default=12,
                   help="speed: timed training blocks per candidate, interleaved "
                   "between warmed-up worker processes (12)")
    p.add_argument("--steps-per-execution", type=POSITIVE, nargs="+", default=[1],
                   help="speed: compile()'s steps_per_execution for the Keras "
                   "training measurements, each value a candidate of its own (1)")
    p.add_argument("--against-torch", action="store_true",
                   help="speed: also measure the PyTorch comparator, alternating "
                   '(pip install -e ".[bench]")')
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32", "auto"],
                   help="speed: training precisions to measure (float32 auto)")
    p.add_argument("--work-dir", help="folder: where the generated images live "
                   "(default OUT_DIR/data; reused by reruns)")
    p.add_argument("--steps", type=POSITIVE, default=None,
                   help="speed: training steps per timed block (10); quality: "
                   "training steps per folder (150)")
    p.add_argument("--folder-suite", help="quality: a folder of MVTec-layout folders")
    p.add_argument("--folders", nargs="+", help="quality: only these folders")
    p.add_argument("--model", default="ganomaly", choices=DETECTOR_NAMES,
                   help="quality: the detector")
    p.add_argument("--image-size", type=POSITIVE, help="quality: model input side (64)")
    p.add_argument("--working-size", type=_working_size,
                   help="quality: SIDE, WIDTHxHEIGHT or auto (default): score at "
                   "this size over tiles of --image-size")
    p.add_argument("--batch-size", type=POSITIVE, help="quality: batch (32)")
    p.add_argument("--augment", action="store_true", help="quality: texture augmentations")
    p.add_argument("--out-dir", default=None,
                   help="results.json (saved after every measurement; a rerun resumes) "
                   "and results.md: runs/benchmark (speed), runs/quality (quality), "
                   "runs/folder_benchmark (folder)")
    p.add_argument("--mnist", help="mnist.npz: also run the paper's protocol")
    p.add_argument("--digits", type=arguments.cli_type(arguments.integer, int, minimum=0, maximum=9),
                   nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=POSITIVE, default=3)
    p.add_argument("--jit-compile", type=_jit, default=False)
    p.add_argument("--skip-training", action="store_true",
                   help="speed: no training throughput measurement")
    p.add_argument("--skip-latency", action="store_true",
                   help="speed: no scoring latency measurement")
    p.add_argument("--out", help="also write the JSON report here")
    add_model_options(p, "quality: model options (train --folder's defaults when not given)")
    p.set_defaults(command_name="benchmark")
    return parser
