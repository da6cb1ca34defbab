"""
Title: Training throughput of GANomaly
Description: Steady-state training images/s at the reference setting.

32x32x1 (or --channels 3), batch 64, width 64, nz 100, random images (speed does not
depend on content), float32 or --precision. The first epoch (tracing) is excluded; the
median of the timed epochs is printed. This is one process's figure: to compare with
PyTorch or between precisions, use `ganomaly-keras benchmark speed --against-torch`,
which measures the candidates side by side: warmed-up worker processes taking turns
with short timed blocks. To see where a step's time goes, use
examples/profile_training_step.py.

Usage:
    python examples/measure_training_speed.py [--channels 1] [--steps 40] [--epochs 3]
        [--precision auto]
"""

import argparse
import json
import os

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

from benchmarks.speed import training_throughput
from ganomaly_keras.training.precision import PRECISIONS, resolve_precision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS)
    args = parser.parse_args()
    row = training_throughput(
        image_size=args.image_size, channels=args.channels, batch_size=args.batch_size,
        steps=args.steps, epochs=args.epochs, jit_compile=args.jit_compile,
        dtype_policy=resolve_precision(args.precision),
    )
    row["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
