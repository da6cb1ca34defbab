"""
Title: The GANomaly family side by side
Description: Every model under one epoch budget: leave-one-digit-out test AUROC per
digit, and AUROC against training-set contamination.

Trains GANomaly, skip-GANomaly, the simultaneous-encoder WGAN (Berg et al. 2019),
EGBAD and AnoGAN with the same data, epochs, batch and seed. Two tables:

1. leave-one-digit-out: per held-out digit, the test AUROC of every model after the
   last epoch (nothing is selected on test); for the simultaneous-encoder model, whose
   default score is "combined", the latent-norm and residual scores of the same trained
   models get rows of their own;
2. contamination: for GANomaly and the simultaneous-encoder model, the test AUROC when
   a fraction p of the training set is the anomalous digit (Berg et al.'s setting).

Data: scikit-learn's digits by default (offline, seeded 80/20 split), or real MNIST
with `--mnist mnist.npz` (Keras' layout; the paper's protocol: train on the other digits
of the train split, test on the whole test split). `--max-train-images` draws a seeded
subset of the training split to fit a CPU budget, and `--max-test-images` one of the
test split, which AnoGAN's per-image latent search makes slow; the same subsets serve
every model.

With `--out`, every result is written to that JSON file as soon as it is measured, and a
rerun with the same file and budget skips what is already there, so a long comparison
that is stopped loses at most the run in progress.

Usage:
    python examples/compare_family.py --digits 0 1 2 --epochs 15
    python examples/compare_family.py --mnist mnist.npz --digits 0 1 2 3 4 5 6 7 8 9 \
        --epochs 2 --max-train-images 3000 --max-test-images 1000 --out family.json
"""

import argparse
import json
import os
import time

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from ganomaly_keras.data import (
    Split,
    contaminated_leave_one_class_out,
    leave_one_class_out,
    load_digits,
    load_npz,
    paper_leave_one_class_out,
)
from ganomaly_keras.models import DETECTORS
from ganomaly_keras.saving import write_json_atomically

# Every registered detector, by class name (the rows of the tables).
MODELS = {cls.__name__: cls for cls in DETECTORS.values()}


def subsample(split, limit, seed):
    """At most `limit` images of `split`, drawn with `seed` (all when limit is 0)."""
    if not limit or len(split.labels) <= limit:
        return split
    keep = np.sort(np.random.default_rng(seed).permutation(len(split.labels))[:limit])
    return Split(split.images[keep], split.labels[keep])


def leave_one_out_splits(args, data, digit):
    if args.mnist:
        splits = paper_leave_one_class_out(data[0], data[1], digit, seed=args.seed)
    else:
        splits = leave_one_class_out(*data, digit, seed=args.seed)
    return (
        subsample(splits["train"], args.max_train_images, args.seed),
        subsample(splits["test"], args.max_test_images, args.seed),
    )


def train_and_test(model_class, train, test, args):
    """Test AUROC after `args.epochs` epochs, and seconds taken."""
    keras.utils.set_random_seed(args.seed)
    model = model_class(image_size=32, channels=1, seed=args.seed)
    model.compile()
    start = time.perf_counter()
    model.fit(train.images, epochs=args.epochs, batch_size=64, verbose=0)
    scores = model.predict(test.images, batch_size=256, verbose=0)
    result = {"auroc": float(roc_auc_score(test.labels, scores))}
    others = [name for name in model.paper_scores if name != model.score]
    if others:
        # The model's other paper scores, from the same trained model.
        result["auroc_by_score"] = {
            name: float(roc_auc_score(test.labels, values))
            for name, values in model.predict_terms(test.images, others).items()
        }
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def load_results(path, budget):
    """Results already in `path` for this budget, else an empty record."""
    empty = {"budget": budget, "leave_one_out": {}, "contamination": {}}
    if not path or not os.path.exists(path):
        return empty
    with open(path) as handle:
        results = json.load(handle)
    if results.get("budget") != budget:
        raise SystemExit(
            f"{path} holds results of another budget ({results.get('budget')!r}); "
            "pass another --out or delete it."
        )
    return results


def measure(results, table, model, column, run, out):
    """`run()`'s result under results[table][model][column], computed once."""
    row = results[table].setdefault(model, {})
    if str(column) not in row:
        row[str(column)] = run()
        if out:
            write_json_atomically(out, results)
    return row[str(column)]


def markdown(results, table, columns, header, mean=False):
    lines = ["| model | " + " | ".join(header(c) for c in columns)
             + (" | mean |" if mean else " |") + " seconds |",
             "|---" * (len(columns) + 2 + bool(mean)) + "|"]

    def line(label, values, seconds):
        cells = [f"{v:.3f}" for v in values] + ([f"{np.mean(values):.3f}"] if mean else [])
        return f"| {label} | " + " | ".join(cells) + f" | {seconds} |"

    for name, row in results[table].items():
        if any(str(c) not in row for c in columns):
            continue
        seconds = sum(row[str(c)]["seconds"] for c in columns)
        lines.append(line(name, [row[str(c)]["auroc"] for c in columns], f"{seconds:.0f}"))
        # Rows for the other scores of the same trained models, where all were measured.
        variants = [row[str(c)].get("auroc_by_score") for c in columns]
        for score in variants[0] if all(variants) else ():
            lines.append(line(f"{name}, {score} score", [v[score] for v in variants], "(same models)"))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", "--npz", dest="mnist",
                        help="mnist.npz in Keras' layout; default: scikit-learn digits")
    parser.add_argument("--digits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--contamination", type=float, nargs="*", default=[0.0, 0.01, 0.05, 0.1])
    parser.add_argument("--contamination-digit", type=int, default=None,
                        help="the anomaly of the contamination table (first of --digits)")
    parser.add_argument("--max-train-images", type=int, default=0)
    parser.add_argument("--max-test-images", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()

    data = load_npz(args.mnist, 32, 1) if args.mnist else load_digits(32)
    budget = (
        f"{args.epochs} epochs, batch 64, seed {args.seed}, "
        f"{'MNIST ' + os.path.basename(args.mnist) if args.mnist else 'scikit-learn digits'}"
        f"{f', at most {args.max_train_images} training images' if args.max_train_images else ''}"
        f"{f', at most {args.max_test_images} test images' if args.max_test_images else ''}"
    )
    results = load_results(args.out, budget)

    for digit in args.digits:
        train, test = leave_one_out_splits(args, data, digit)
        for name in args.models:
            result = measure(results, "leave_one_out", name, digit,
                             lambda: train_and_test(MODELS[name], train, test, args), args.out)
            print(f"digit {digit} {name}: AUROC {result['auroc']:.3f} "
                  f"({result['seconds']:.0f} s, {len(train.labels)} training and "
                  f"{len(test.labels)} test images)", flush=True)

    digit = args.digits[0] if args.contamination_digit is None else args.contamination_digit
    images, classes = (
        (np.concatenate([data[0][0], data[1][0]]), np.concatenate([data[0][1], data[1][1]]))
        if args.mnist else data
    )
    for p in args.contamination:
        splits = contaminated_leave_one_class_out(images, classes, digit, p, seed=args.seed)
        train = subsample(splits["train"], args.max_train_images, args.seed)
        test = subsample(splits["test"], args.max_test_images, args.seed)
        for name in ("GANomaly", "SimultaneousEncoderGAN"):  # Berg et al.'s comparison
            if name not in args.models:
                continue
            result = measure(results, "contamination", name, p,
                             lambda: train_and_test(MODELS[name], train, test, args), args.out)
            print(f"contamination {p} {name}: AUROC {result['auroc']:.3f} "
                  f"({result['seconds']:.0f} s)", flush=True)

    print(f"\nBudget: {budget}\n")
    print("Leave-one-digit-out, test AUROC after the last epoch (seconds: training and scoring):\n")
    print(markdown(results, "leave_one_out", args.digits, lambda d: f"digit {d}", mean=True))
    if results["contamination"]:
        print(f"\nContamination: anomaly digit {digit}, a fraction p of the training set:\n")
        print(markdown(results, "contamination", args.contamination, lambda p: f"p = {p}"))


if __name__ == "__main__":
    main()
