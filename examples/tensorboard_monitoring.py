"""
Title: Watching GANomaly train in TensorBoard
Description: Losses, validation AUROC, reconstructions, residual heat maps, score
histograms and the ROC curve, on scikit-learn's digits (offline).

Keras' own `TensorBoard` callback logs every loss component (`g_loss`, `g_adv`,
`g_con`, `g_enc`, `d_loss`, `d_reinit`) and, listed after `AUROCCallback`, the
validation `auroc` and `aupr`. `TensorBoardImages` adds a grid of fixed validation
images (input / reconstruction / |residual|), histograms of normal and anomalous
scores, and the ROC curve as an image. Everything is computed on the validation split.

Usage:
    python examples/tensorboard_monitoring.py --epochs 15 --log-dir runs/tensorboard
    tensorboard --logdir runs/tensorboard
"""

import argparse

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras

from ganomaly_keras import GANomaly
from ganomaly_keras.data import leave_one_class_out, load_digits
from ganomaly_keras.training.callbacks import AUROCCallback
from ganomaly_keras.training.tensorboard import TensorBoardImages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--abnormal-digit", type=int, default=0)
    parser.add_argument("--log-dir", default="runs/tensorboard")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # Digits at 32x32; one digit is the anomaly; 10% of the normal images and a share
    # of the anomalies form the validation split.
    images, classes = load_digits(image_size=32)
    splits = leave_one_class_out(
        images, classes, args.abnormal_digit, validation_fraction=0.1, seed=args.seed
    )
    val = splits["validation"]

    keras.utils.set_random_seed(args.seed)
    model = GANomaly(image_size=32, channels=1, seed=args.seed)
    model.compile()
    model.fit(
        splits["train"].images,
        epochs=args.epochs,
        batch_size=64,
        verbose=2,
        callbacks=[
            AUROCCallback(val.images, val.labels),  # first: adds val_auroc to the logs
            keras.callbacks.TensorBoard(args.log_dir),
            TensorBoardImages(args.log_dir, val.images, val.labels, every=1),
        ],
    )
    print(f"tensorboard --logdir {args.log_dir}")


if __name__ == "__main__":
    main()
