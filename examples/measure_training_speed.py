"""
Title: Training throughput of GANomaly
Description: Steady-state training images/s at the reference setting.

32x32x1 (or --channels 3), batch 64, width 64, nz 100, float32, random images (speed
does not depend on content). The first epoch (tracing) is excluded; the median of the
timed epochs is printed. The reference PyTorch code trains at about 374 images/s on
a 2-core CPU machine (DESIGN.md section 7).

Usage:
    python examples/measure_training_speed.py [--channels 1] [--steps 40] [--epochs 3]
"""

import argparse
import json
import os
import time

import ganomaly_keras  # noqa: F401  (first: sets the TensorFlow backend options)

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras import GANomaly


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--jit-compile", action="store_true")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, args.channels)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch_size * args.steps, *shape))
    dataset = (
        tf.data.Dataset.from_tensor_slices(x.astype("float32"))
        .batch(args.batch_size, drop_remainder=True)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )
    model = GANomaly(image_size=args.image_size, channels=args.channels)
    model.compile(jit_compile=args.jit_compile)
    timer = EpochTimer()
    model.fit(dataset, epochs=args.epochs + 1, verbose=0, callbacks=[timer])
    per_epoch = float(np.median(timer.seconds[1:]))
    speed = args.batch_size * args.steps / per_epoch
    print(json.dumps({
        "image_shape": shape,
        "batch_size": args.batch_size,
        "jit_compile": args.jit_compile,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "train_images_per_s": round(speed, 1),
        "vs_reference_374": round(speed / 374, 2),
    }))


if __name__ == "__main__":
    main()
