"""
Title: Training throughput of GANomaly
Description: Steady-state training images/s at the reference setting.

32x32x1 (or --channels 3), batch 64, width 64, nz 100, float32, random images (speed
does not depend on content). The first epoch (tracing) is excluded; the median of the
timed epochs is printed. The reference PyTorch code trains at about 374 images/s on
another 2-core CPU machine (a rough guide: not measured side by side). `ganomaly-keras benchmark` runs this for
both shapes together with the FLOP count and the machine's peak.

Usage:
    python examples/measure_training_speed.py [--channels 1] [--steps 40] [--epochs 3]
"""

import argparse
import json
import os

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

from ganomaly_keras.benchmark import REFERENCE_IMAGES_PER_S, training_throughput


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--jit-compile", action="store_true")
    args = parser.parse_args()
    row = training_throughput(
        args.image_size, args.channels, args.batch_size, args.steps, args.epochs,
        jit_compile=args.jit_compile,
    )
    row["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    row["vs_reference"] = round(row["images_per_s"] / REFERENCE_IMAGES_PER_S, 2)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
