"""
Title: The GANomaly family side by side
Description: Every model under one epoch budget: leave-one-digit-out test AUROC per
digit, and AUROC against training-set contamination.

Trains GANomaly, skip-GANomaly, the simultaneous-encoder WGAN (Berg et al. 2019),
EGBAD and AnoGAN with the same data, epochs, batch and seed. Two tables:

1. leave-one-digit-out: per held-out digit, the test AUROC of every model after the
   last epoch (nothing is selected on test);
2. contamination: for GANomaly and the simultaneous-encoder model, the test AUROC when
   a fraction p of the training set is the anomalous digit (Berg et al.'s setting).

Data: scikit-learn's digits by default (offline, seeded 80/20 split), or real MNIST
with `--npz mnist.npz` (the paper's protocol; `--max-train-images` subsamples the
training split to fit a CPU budget, and `--max-test-images` the test split, which
AnoGAN's per-image latent search makes slow).

Usage:
    python examples/compare_family.py --digits 0 1 2 --epochs 15
    python examples/compare_family.py --npz mnist.npz --digits 0 1 2 --epochs 3 \
        --max-train-images 6000 --max-test-images 2000
"""

import argparse
import json
import time

import ganomaly_keras  # noqa: F401  (first: sets the TensorFlow backend options)

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from ganomaly_keras import EGBAD, AnoGAN, GANomaly, SimultaneousEncoderGAN, SkipGANomaly
from ganomaly_keras.data import (
    Split,
    contaminated_leave_one_class_out,
    leave_one_class_out,
    load_digits,
    load_npz,
    paper_leave_one_class_out,
)

MODELS = {
    "GANomaly": GANomaly,
    "skip-GANomaly": SkipGANomaly,
    "SimultaneousEncoderGAN": SimultaneousEncoderGAN,
    "EGBAD": EGBAD,
    "AnoGAN": AnoGAN,
}


def subsample(split, limit, seed):
    """At most `limit` images of `split`, drawn with `seed` (all when limit is 0)."""
    if not limit or len(split.labels) <= limit:
        return split
    keep = np.sort(np.random.default_rng(seed).permutation(len(split.labels))[:limit])
    return Split(split.images[keep], split.labels[keep])


def leave_one_out_splits(args, data, digit):
    if args.npz:
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
    return float(roc_auc_score(test.labels, scores)), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npz", help="mnist.npz (Keras layout); default: scikit-learn digits")
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

    data = load_npz(args.npz, 32, 1) if args.npz else load_digits(32)
    budget = (f"{args.epochs} epochs, batch 64, seed {args.seed}, "
              f"{'MNIST ' + args.npz if args.npz else 'scikit-learn digits'}")
    results = {"budget": budget, "leave_one_out": {}, "contamination": {}}

    for digit in args.digits:
        train, test = leave_one_out_splits(args, data, digit)
        for name in args.models:
            auroc, seconds = train_and_test(MODELS[name], train, test, args)
            results["leave_one_out"].setdefault(name, {})[digit] = auroc
            print(f"digit {digit} {name}: AUROC {auroc:.3f} ({seconds:.0f} s, "
                  f"{len(train.labels)} training images)", flush=True)

    digit = args.digits[0] if args.contamination_digit is None else args.contamination_digit
    images, classes = (
        (np.concatenate([data[0][0], data[1][0]]), np.concatenate([data[0][1], data[1][1]]))
        if args.npz else data
    )
    for p in args.contamination:
        splits = contaminated_leave_one_class_out(images, classes, digit, p, seed=args.seed)
        train = subsample(splits["train"], args.max_train_images, args.seed)
        test = subsample(splits["test"], args.max_test_images, args.seed)
        for name in ("GANomaly", "SimultaneousEncoderGAN"):
            if name not in args.models:
                continue
            auroc, _ = train_and_test(MODELS[name], train, test, args)
            results["contamination"].setdefault(name, {})[p] = auroc
            print(f"contamination {p} {name}: AUROC {auroc:.3f}", flush=True)

    print(f"\nBudget: {budget}\n")
    print("| model | " + " | ".join(f"digit {d}" for d in args.digits) + " | mean |")
    print("|---" * (len(args.digits) + 2) + "|")
    for name, row in results["leave_one_out"].items():
        values = [row[d] for d in args.digits]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {np.mean(values):.3f} |")
    if results["contamination"]:
        print(f"\nContamination (anomaly digit {digit}):\n")
        print("| model | " + " | ".join(f"p = {p}" for p in args.contamination) + " |")
        print("|---" * (len(args.contamination) + 1) + "|")
        for name, row in results["contamination"].items():
            print(f"| {name} | " + " | ".join(f"{row[p]:.3f}" for p in args.contamination) + " |")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
