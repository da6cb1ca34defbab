"""
Title: The GANomaly paper's MNIST protocol, measured honestly
Description: Leave one digit out, select and calibrate on validation, test once.

Needs an `.npz` in Keras' layout (`x_train`, `y_train`, `x_test`, `y_test`), such as
`mnist.npz`; pass its path. For each held-out digit: train on the other nine digits of
the train split (less 10% kept for validation), monitor `val_auroc` on validation
(held-back normal images + the held-out digit's train images), calibrate the threshold
on validation, and score the whole test split once, after the last epoch. No number
here is chosen by looking at the test split; bad digits are reported as measured.

Usage:
    python examples/mnist_leave_one_digit_out.py --npz path/to/mnist.npz \
        --digits 0 1 2 --epochs 3
"""

import argparse
import json
import time

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras
import numpy as np

from ganomaly_keras import GANomaly
from ganomaly_keras.training.callbacks import AUROCCallback
from ganomaly_keras.data import load_npz, paper_leave_one_class_out
from ganomaly_keras.metrics.evaluation import evaluate_detector


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npz", required=True, help="path to mnist.npz (Keras layout)")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()

    train, test = load_npz(args.npz, image_size=32, channels=1)
    rows = {}
    for digit in args.digits:
        keras.utils.set_random_seed(args.seed)
        splits = paper_leave_one_class_out(train, test, digit, seed=args.seed)
        val = splits["validation"]
        model = GANomaly(image_size=32, channels=1, seed=args.seed)
        model.compile()
        start = time.perf_counter()
        history = model.fit(
            splits["train"].images,
            epochs=args.epochs,
            batch_size=args.batch_size,
            shuffle=True,
            verbose=args.verbose,
            callbacks=[AUROCCallback(val.images, val.labels)],
        )
        seconds = time.perf_counter() - start
        model.calibrate(val.images, val.labels)
        result = evaluate_detector(model, splits["test"].images, splits["test"].labels)
        rows[digit] = {
            "val_auroc_last_epoch": round(history.history["val_auroc"][-1], 4),
            "test_auroc": round(result["auroc"], 4),
            "test_aupr": round(result["aupr"], 4),
            "test_f1_at_threshold": round(result["f1"], 4),
            "train_images_per_s": round(args.epochs * len(splits["train"].images) / seconds, 1),
        }
        print(f"digit {digit}: {json.dumps(rows[digit])}", flush=True)
    mean = float(np.mean([r["test_auroc"] for r in rows.values()]))
    print(json.dumps({"epochs": args.epochs, "per_digit": rows, "mean_test_auroc": round(mean, 4)}))


if __name__ == "__main__":
    main()
