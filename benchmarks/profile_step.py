"""
Title: Where a GANomaly training step spends its time
Description: An op-by-op profile of the training step, and in-process A/B comparisons.

Two modes, both on random 32x32x1 images at batch 64 (width 64, nz 100), one process:

- `--profile`: traces `--steps` training steps with TensorFlow's profiler (the trace
  lands in `--log-dir`, readable in TensorBoard's Profile tab where
  tensorboard-plugin-profile is installed) and prints the milliseconds per step of
  each op type, largest first, and of the largest single ops. Convolutions show as
  `_MklNativeConv2D` (forward), `...BackpropInput` (gradient with respect to the
  input, and every Conv2DTranspose forward) and `...BackpropFilter` (with respect
  to the kernel).
- `--compare NAME=JSON ...`: one model per variant (JSON: GANomaly arguments, plus
  "precision"), then blocks of `--steps` steps alternating between them for
  `--rounds` rounds; prints each variant's median ms per step and the first
  variant's time over each other's, median and quartiles across rounds. Variants a
  few seconds apart see the same machine speed; compare nothing across processes.

Usage:
    python -m benchmarks.profile_step --profile [--precision mixed_bfloat16]
    python -m benchmarks.profile_step --compare reset='{}' \\
        no_reset='{"discriminator_reset_threshold": 0}' --rounds 12 --steps 5
"""

import argparse
import collections
import glob
import json
import os
import time

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras
import numpy as np
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from ganomaly_keras.models import GANomaly
from ganomaly_keras.training.precision import (
    PRECISIONS,
    dtype_policy,
    resolve_precision,
)


def training_step(images, precision="float32", **options):
    """A compiled GANomaly's `train_step` as a traced function, warmed up."""
    keras.utils.set_random_seed(0)
    with dtype_policy(resolve_precision(precision)):
        model = GANomaly(image_size=images.shape[1], channels=images.shape[3], **options)
    model.compile()
    step = tf.function(lambda batch: model.train_step(batch))
    for _ in range(3):
        step(images)["g_loss"].numpy()
    return step


def run_steps(step, images, steps):
    """Seconds per step over `steps` steps, waiting for the last one to finish."""
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(images)
    logs["g_loss"].numpy()
    return (time.perf_counter() - start) / steps


def op_times(log_dir, steps):
    """`(ms per step by op type, ms per step by op name)` from the profiler's trace.

    TensorFlow's executor records each op as "name:type"; function calls and the
    runtime's own events ("Class::Method") are left out.
    """
    (path,) = glob.glob(os.path.join(log_dir, "**", "*.xplane.pb"), recursive=True)
    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    by_type, by_name = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "::" in name or name.startswith(("Iterator", "EagerLocalExecute")):
                    continue
                op_type = name.rsplit(":", 1)[1]
                milliseconds = event.duration_ps / 1e9 / steps
                by_type[op_type] += milliseconds
                by_name[name] += milliseconds
    return by_type, by_name


def profile(args, images):
    step = training_step(images, args.precision)
    tf.profiler.experimental.start(args.log_dir)
    seconds = run_steps(step, images, args.steps)
    tf.profiler.experimental.stop()
    by_type, by_name = op_times(args.log_dir, args.steps)
    convolutions = sum(v for k, v in by_type.items() if "Conv2D" in k)
    print(f"{args.precision}: {1000 * seconds:.1f} ms per step (profiled), "
          f"convolutions {convolutions:.1f} ms; trace in {args.log_dir}")
    print("ms/step  op type")
    for op_type, milliseconds in by_type.most_common(args.top):
        print(f"{milliseconds:7.2f}  {op_type}")
    print("ms/step  op")
    for name, milliseconds in by_name.most_common(args.top):
        print(f"{milliseconds:7.2f}  {name}")


def compare(args, images):
    variants = {}
    for text in args.compare:
        name, _, options = text.partition("=")
        variants[name] = training_step(images, **json.loads(options or "{}"))
    seconds = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, step in variants.items():
            seconds[name].append(run_steps(step, images, args.steps))
    names = list(variants)
    for name in names:
        print(f"{name}: {1000 * np.median(seconds[name]):.1f} ms per step (median)")
    for name in names[1:]:
        ratio = np.array(seconds[names[0]]) / np.array(seconds[name])
        q1, q3 = np.quantile(ratio, [0.25, 0.75])
        print(f"{names[0]} time / {name} time: median {np.median(ratio):.3f} "
              f"(quartiles {q1:.3f}-{q3:.3f}) over {args.rounds} rounds")


def main():
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--profile", action="store_true")
    mode.add_argument("--compare", nargs="+", metavar="NAME=JSON")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--log-dir", default="runs/profile")
    args = parser.parse_args()
    if args.profile and os.path.exists(args.log_dir) and os.listdir(args.log_dir):
        parser.error(f"--log-dir {args.log_dir} is not empty; choose a new folder.")
    images = tf.constant(np.random.default_rng(0).uniform(
        -1, 1, (64, args.image_size, args.image_size, 1)).astype("float32"))
    if args.profile:
        profile(args, images)
    else:
        compare(args, images)


if __name__ == "__main__":
    main()
