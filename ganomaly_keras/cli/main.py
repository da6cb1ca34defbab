"""The `ganomaly-keras` command: train, evaluate, export, predict, benchmark.

    ganomaly-keras train                                # digits, digit 0 is the anomaly
    ganomaly-keras train --npz mnist.npz --abnormal-class 1 --run-dir runs/mnist1
    ganomaly-keras train --tfds fashion_mnist --tfds-data-dir ~/tfds
    ganomaly-keras train --folder mvtec/bottle --image-size 64 --channels 3
    ganomaly-keras evaluate runs/ganomaly --scores scores.csv
    ganomaly-keras export runs/ganomaly/model.keras runs/ganomaly/export
    ganomaly-keras predict runs/ganomaly images/ --out scores.csv
    ganomaly-keras report runs/ganomaly                # rebuild report.html
    ganomaly-keras preview-defects mvtec/bottle --out defects.png
    ganomaly-keras benchmark quality --folder-suite piped/

Bad input ends with one `ganomaly-keras: error: ...` line and exit status 2; pass
`--debug` for the traceback. The options and their checks are in
`ganomaly_keras.cli.parser`; each command is a module of this package with a
`run(args)`.
"""

import importlib
import sys

from ganomaly_keras.backend import configure_tensorflow

COMMANDS = ("train", "evaluate", "export", "predict", "report", "preview_defects", "benchmark")


def main(argv=None):
    """Run the `ganomaly-keras` command line; returns the exit status.

    Parsing and every check of the arguments need no TensorFlow, so `--help` and bad
    arguments answer at once; TensorFlow loads only for a command that runs.
    """
    from ganomaly_keras.cli.checks import check_arguments
    from ganomaly_keras.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_arguments(args)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    configure_tensorflow()  # before anything imports TensorFlow
    from ganomaly_keras.training.directory import RunError

    command = importlib.import_module(f"ganomaly_keras.cli.{args.command_name}")
    try:
        command.run(args)
    except (ValueError, FileNotFoundError, RuntimeError, RunError, OSError) as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"ganomaly-keras: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
