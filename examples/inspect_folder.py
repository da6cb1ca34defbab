"""
Title: Anomaly detection on a folder of inspection images
Description: `train_run` on an MVTec-AD-layout folder (what `ganomaly-keras train
--folder` runs), then the selected model's decisions and anomaly maps on the test
images.

A folder in the MVTec AD layout (`train/good`, `test/good`, `test/<defect>/`, optional
`ground_truth/<defect>/<name>_mask.png`) or the GANomaly reference layout
(`train/0.normal`, `test/0.normal`, `test/1.abnormal`) of PNG, JPEG or BMP images of
any size is all it takes. Training images stream from disk; the score term is chosen
on validation (`score="auto"`); pixel metrics come where the folder has masks.

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

import numpy as np
from PIL import Image

from ganomaly_keras import DataSpec, load_model, train_run
from ganomaly_keras.training.directory import load_run_spec


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
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--out", default="runs/folder")
    args = parser.parse_args()
    root = write_demo_folder(args.demo) if args.demo else args.folder

    # The run: streamed training, checkpoint and score chosen on validation, the
    # threshold fitted on validation, the test split scored once, the export.
    metrics = train_run(
        args.out, DataSpec(source="folder", path=root, image_size=64),
        {"score": "auto"}, steps=args.steps, batch_size=32, verbose=2,
        export_formats=("saved_model", "tflite_int8"),
    )
    print(json.dumps({"score": metrics["score"]["name"], "test": metrics["test"]}, indent=2))

    # The model it selected: scores, decisions and anomaly maps of the test images.
    model = load_model(os.path.join(args.out, "model.keras"))
    test = load_run_spec(args.out).splits()["test"]
    outputs = model.calibrated_outputs(test.images)
    maps = model.predict_maps(test.images)
    os.makedirs(os.path.join(args.out, "maps"), exist_ok=True)
    worst = np.argsort(-outputs["anomaly_score"])[:5]
    for rank, i in enumerate(worst):
        heat = np.clip(maps[i] / max(float(maps[i].max()), 1e-6), 0, 1)
        stem = os.path.splitext(os.path.basename(test.paths[i]))[0]
        path = os.path.join(args.out, "maps", f"{rank}_{stem}_map.png")
        Image.fromarray(np.uint8(255 * heat)).save(path)
        print(f"{test.paths[i]}: score {outputs['anomaly_score'][i]:.4f}, "
              f"anomaly {outputs['is_anomaly'][i]}, map {path}")


if __name__ == "__main__":
    main()
