"""The GANomaly paper's MNIST protocol, measured honestly: leave one digit out.

For each held-out digit, `train_run` trains on the other nine digits of the train
split (less 10% kept for validation), selects the epoch by validation AUROC (held-back
normal images plus the held-out digit's train images), calibrates on validation, and
scores the whole test split once. Nothing is chosen by looking at the test split, and
bad digits are reported as measured. This is the one MNIST protocol of the
repository: the speed benchmark's precision check runs it too.

Results go to `--out-dir`/results.json as each digit finishes; a rerun with the same
settings takes only the digits that are missing.

Usage:
    python -m benchmarks.mnist --npz ../shared/data/mnist/mnist.npz --digits 0 1 2 \\
        --epochs 3 --out-dir runs/mnist
"""

import argparse
import os
import tempfile
import time

from ganomaly_keras import configure_tensorflow


def mnist_digit(npz, digit, epochs, seed=0, precision="float32", run_dir=None):
    """The protocol for one held-out digit through `train_run`.

    Returns:
        dict: "test_auroc" (of the epoch selected on validation), "validation_auroc",
        "selected_epoch", "minutes".
    """
    from ganomaly_keras.data.spec import DataSpec
    from ganomaly_keras.training.run import train_run

    run_dir = run_dir or tempfile.mkdtemp(prefix=f"ganomaly-mnist-{digit}-")
    spec = DataSpec(source="npz", path=npz, abnormal_class=digit, seed=seed)
    start = time.perf_counter()
    metrics = train_run(
        run_dir, spec, epochs=epochs, export_formats=(), overwrite=True, verbose=0,
        precision=precision,
    )
    return {
        "test_auroc": metrics["test"]["auroc"],
        "validation_auroc": metrics["validation"]["auroc"],
        "selected_epoch": metrics["selected_epoch"],
        "minutes": round((time.perf_counter() - start) / 60, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npz", required=True, help="mnist.npz in Keras' layout")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--out-dir", default="runs/mnist")
    args = parser.parse_args(argv)
    configure_tensorflow()
    import numpy as np

    from ganomaly_keras.results import ResultsStore, markdown_table

    settings = {"epochs": args.epochs, "seed": args.seed, "precision": args.precision}
    store = ResultsStore(os.path.join(args.out_dir, "results.json"), settings, announce=True)
    rows = []
    for digit in args.digits:
        result = store.measure(str(digit), lambda digit=digit: mnist_digit(
            os.path.abspath(args.npz), digit, args.epochs, args.seed, args.precision,
            os.path.join(args.out_dir, f"digit{digit}"),
        ))
        rows.append([digit, f"{result['test_auroc']:.3f}", f"{result['validation_auroc']:.3f}",
                     result["selected_epoch"] + 1, result["minutes"]])
    mean = np.mean([float(r[1]) for r in rows])
    table = markdown_table(
        ["held-out digit", "test AUROC", "validation AUROC", "selected epoch", "minutes"],
        rows + [["mean", f"{mean:.3f}", "", "", ""]],
    )
    text = f"MNIST leave-one-digit-out, {settings}:\n\n{table}"
    with open(os.path.join(args.out_dir, "results.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
