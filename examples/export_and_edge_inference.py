"""
Title: From a trained model to an edge device
Description: Calibrate, export every format, check them against Keras, and score a
folder of PNGs with the TensorFlow-free LiteRT runner.

1. Train on scikit-learn's digits (offline) with digit 0 as the anomaly.
2. Fit the threshold and 0..1 scaling on validation data (`model.calibrate`); export
   refuses a model without them, since an export without a threshold flags everything.
3. `export_model` writes `.keras`, SavedModel and four `.tflite` variants, each taking
   raw uint8 pixels, plus `metadata.json` and a model card.
4. `ganomaly_keras.deploy.runtimes.compare_runtimes` scores the test images with every
   artefact (what `export/verify_export.py` prints).
5. Test images are written as PNGs and scored by `export/edge_inference.py`, which
   needs only numpy, Pillow and ai-edge-litert: what runs on the device.

Usage:
    python examples/export_and_edge_inference.py --epochs 15 --out runs/edge_demo
"""

import argparse
import os
import subprocess
import sys

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras
from PIL import Image

from ganomaly_keras import GANomaly
from ganomaly_keras.data import leave_one_class_out, load_digits
from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.runtimes import (
    compare_runtimes,
    load_runtimes,
    markdown_table,
)
from ganomaly_keras.deploy.serving import to_uint8_images

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", default="runs/edge_demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, classes = load_digits(image_size=32)
    splits = leave_one_class_out(images, classes, 0, validation_fraction=0.1, seed=args.seed)
    keras.utils.set_random_seed(args.seed)
    model = GANomaly(image_size=32, channels=1, seed=args.seed)
    model.compile()
    model.fit(splits["train"].images, epochs=args.epochs, batch_size=64, verbose=2)

    val, test = splits["validation"], splits["test"]
    model.calibrate(val.images, val.labels)
    export_dir = os.path.join(args.out, "export")
    export_model(
        model,
        export_dir,
        representative_data=splits["train"].images,
        training_data={"source": "digits", "protocol": "leave_one_class_out",
                       "abnormal_class": 0, "seed": args.seed},
    )

    # Every artefact on the same uint8 test images.
    pixels = to_uint8_images(test.images)
    rows = compare_runtimes(load_runtimes(export_dir), pixels, test.labels)
    print(markdown_table(rows))

    # The device side: PNG files in, CSV out, no TensorFlow.
    folder = os.path.join(args.out, "test_images")
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(pixels[:20]):
        Image.fromarray(image[..., 0]).save(os.path.join(folder, f"{i:03d}_label{test.labels[i]}.png"))
    subprocess.run(
        [sys.executable, os.path.join(REPO, "export", "edge_inference.py"),
         os.path.join(export_dir, "model_int8.tflite"), folder,
         "--out", os.path.join(args.out, "scores.csv"),
         "--maps", os.path.join(args.out, "maps")],
        check=True,
    )
    print(open(os.path.join(args.out, "scores.csv")).read())


if __name__ == "__main__":
    main()
