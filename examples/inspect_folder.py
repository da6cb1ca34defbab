"""
Title: Anomaly detection on a folder of inspection images
Description: Train GANomaly on an MVTec-AD-layout folder with a map-based score, watch
it in TensorBoard, calibrate a threshold on validation data and test once, with pixel
metrics where the folder has ground-truth masks.

A folder in the MVTec AD layout (`train/good`, `test/good`, `test/<defect>/`, optional
`ground_truth/<defect>/<name>_mask.png`) or the GANomaly reference layout
(`train/0.normal`, `test/0.normal`, `test/1.abnormal`) of PNG, JPEG or BMP images of
any size is all it takes. Training images stream from disk. `ganomaly-keras train
--folder DIR` does the same in one command; this script shows the Python API.

With `--demo DIR` the script first writes such a folder from scikit-learn's digits
(digit 0 plays the defect), so it runs offline with nothing to download.

Usage:
    python examples/inspect_folder.py --demo runs/demo_folder
    python examples/inspect_folder.py --folder ../shared/data/piped/PA_BDP01_TL
    tensorboard --logdir runs/folder/logs
"""

import argparse
import json
import os

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras
import numpy as np
from PIL import Image

from ganomaly_keras import GANomaly
from ganomaly_keras.training.callbacks import AUROCCallback
from ganomaly_keras.data.spec import DataSpec, training_input
from ganomaly_keras.metrics.evaluation import evaluate_detector
from ganomaly_keras.saving import save_model_atomically
from ganomaly_keras.training.tensorboard import TensorBoardImages


def write_demo_folder(root, seed=0):
    """scikit-learn's digits as 8-bit PNGs in the MVTec layout; 0 is the defect."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    normal = [i for i in order if digits.target[i] != 0]
    defects = [i for i in order if digits.target[i] == 0]
    n_test_normal = len(normal) // 5
    groups = {
        "train/good": normal[n_test_normal:],
        "test/good": normal[:n_test_normal],
        "test/zero": defects,
    }
    for folder, indices in groups.items():
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        for i in indices:
            pixels = (digits.images[i] * (255.0 / 16.0)).astype(np.uint8)
            Image.fromarray(pixels).resize((32, 32), Image.BILINEAR).save(
                os.path.join(root, folder, f"{i:04d}.png")
            )
    return root


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", help="dataset folder (MVTec or reference layout)")
    source.add_argument("--demo", help="write a demo folder from digits here and use it")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=None,
                        help="default: 1 for grayscale images, else 3")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--score", default="residual_max",
                        help="a score term of ganomaly_keras.scoring.terms")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/folder")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="skip corrupt image files with a warning instead of failing")
    args = parser.parse_args()
    root = write_demo_folder(args.demo, args.seed) if args.demo else args.folder

    # Train / validation / test from the folder; validation borrows a stratified 20%
    # of the test folder so that AUROC can be watched without touching test images.
    # Validation and test carry their ground-truth masks where the folder has them.
    spec = DataSpec(source="folder", path=root, image_size=args.image_size,
                    channels=args.channels, seed=args.seed,
                    on_error="skip" if args.skip_unreadable else "raise")
    splits = spec.splits()
    val, test = splits["validation"], splits["test"]
    print(splits["summary"]["splits"])
    # Batches streamed from disk, reshuffled each pass, repeated for a step budget.
    train = training_input(splits["train"], spec, args.batch_size, repeat=True)

    keras.utils.set_random_seed(args.seed)
    model = GANomaly(image_size=args.image_size, channels=splits["channels"],
                     score=args.score, seed=args.seed)
    model.compile()
    log_dir = os.path.join(args.out, "logs")
    every = 30  # validate (AUROC, pixel AUROC, AUPRO) every 30 steps
    model.fit(
        train,
        steps_per_epoch=every,
        epochs=max(1, args.steps // every),
        verbose=2,
        callbacks=[
            AUROCCallback(val.images, val.labels, masks=val.masks),
            keras.callbacks.TensorBoard(log_dir),
            TensorBoardImages(log_dir, val.images, val.labels, masks=val.masks),
        ],
    )

    # Normal statistics (standardised scores) from training images; threshold from
    # validation (F1-optimal); then the test split once.
    model.fit_normal_statistics(splits["train_sample"])
    model.calibrate(val.images, val.labels)
    result = evaluate_detector(model, test.images, test.labels, masks=test.masks)
    path = save_model_atomically(model, os.path.join(args.out, "ganomaly.keras"))
    summary = {k: round(v, 4) for k, v in result.items() if isinstance(v, float)}
    print(json.dumps({"model": path, "score": model.score, "test": summary}))


if __name__ == "__main__":
    main()
