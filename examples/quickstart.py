"""
Title: Quickstart: GANomaly on scikit-learn's digits, one digit held out as the anomaly
Description: Train on normal digits only, score the test split, save the model.

scikit-learn ships its 1,797 handwritten digits (8x8, 0..16), so this runs offline.
Protocol (the reference code's leave-one-class-out, seeded): one digit is the
anomaly; the normal digits are split 80/20 with a seed, training sees only the 80%,
test holds the other 20% and every image of the held-out digit. The test AUROC is
measured once, after the last epoch: nothing is selected on the test split.

Usage:
    python examples/quickstart.py                       # digit 0, 15 epochs
    python examples/quickstart.py --abnormal-digits 0 1 2 --epochs 15
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

from ganomaly_keras import GANomaly
from ganomaly_keras.data import leave_one_class_out, load_digits
from ganomaly_keras.saving import save_model_atomically


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--abnormal-digits", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/digits")
    parser.add_argument("--verbose", type=int, default=2)
    return parser.parse_args()


def train_one(images, classes, digit, args):
    """Train with `digit` as the anomaly; return (model, test AUROC, images/s)."""
    keras.utils.set_random_seed(args.seed)
    splits = leave_one_class_out(images, classes, digit, seed=args.seed)
    train, test = splits["train"], splits["test"]
    print(
        f"digit {digit}: {len(train.images)} normal training images, "
        f"{len(test.images)} test images ({int(test.labels.sum())} anomalous)"
    )
    model = GANomaly(image_size=args.image_size, channels=1, seed=args.seed)
    model.compile()
    start = time.perf_counter()
    model.fit(
        train.images,
        epochs=args.epochs,
        batch_size=args.batch_size,
        shuffle=True,
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    scores = model.predict(test.images, batch_size=256, verbose=0)
    auroc = roc_auc_score(test.labels, scores)
    return model, auroc, args.epochs * len(train.images) / seconds


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    images, classes = load_digits(image_size=args.image_size)
    results = {}
    for digit in args.abnormal_digits:
        model, auroc, speed = train_one(images, classes, digit, args)
        path = os.path.join(args.out, f"ganomaly_digit{digit}.keras")
        save_model_atomically(model, path)
        results[digit] = {"test_auroc": round(float(auroc), 4), "train_images_per_s": round(speed, 1)}
        print(
            f"digit {digit}: test AUROC {auroc:.3f} after {args.epochs} epochs "
            f"({speed:.0f} training images/s); model saved to {path}"
        )
    mean = float(np.mean([r["test_auroc"] for r in results.values()]))
    print(json.dumps({"epochs": args.epochs, "per_digit": results, "mean_test_auroc": round(mean, 4)}))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"epochs": args.epochs, "per_digit": results, "mean_test_auroc": mean}, f, indent=2)


if __name__ == "__main__":
    main()
