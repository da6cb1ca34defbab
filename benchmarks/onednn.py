"""Training speed of a user's own script with and without TensorFlow's oneDNN kernels.

A script that does `from ganomaly_keras import GANomaly` and calls `fit` gets
TensorFlow's defaults unless it calls `configure_tensorflow()` first. TensorFlow turns
its oneDNN kernels on by itself only on some CPUs (those with AVX-512 VNNI or BF16,
or AMX); on an AVX2-only CPU it leaves them off. This benchmark trains the same
GANomaly (32x32x1, batch 64, float32, width 64) in a fresh process per measurement,
under these environments, alternating (A B C D A B C D ...):

- `off`: `TF_ENABLE_ONEDNN_OPTS=0`, TensorFlow's default on an AVX2-only CPU;
- `on`: `TF_ENABLE_ONEDNN_OPTS=1`;
- `on_avx2`: `TF_ENABLE_ONEDNN_OPTS=1` with `ONEDNN_MAX_CPU_ISA=AVX2`, oneDNN's
  kernels as an AVX2-only CPU runs them;
- `tf_default`: neither variable set, TensorFlow's own choice on this CPU;
- `configured`: the script calls `configure_tensorflow()` (oneDNN on and one op at a
  time, `TF_NUM_INTEROP_THREADS=1`).

`off` against `on_avx2` is the gap a user on an AVX2-only CPU sees. Each measurement
is the images/s of `--steps` timed training steps after a warm-up, in that process.
Results are saved after every measurement to `--out` and a rerun resumes.

Usage:
    python -m benchmarks.onednn --out benchmarks/results/onednn.json --pairs 3
"""

import argparse
import json
import os
import statistics
import sys
import time

from benchmarks.measurement import alternate, machine_results, measure_in_child, speed_flags

VARIANTS = {
    "off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "on": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "on_avx2": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "tf_default": {},
    "configured": {},
}
# What a user's shell would not have set; each variant sets its own.
_CLEARED = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TF_NUM_INTEROP_THREADS")


def environment(variant):
    """The child's environment for `variant`: this one, less the variables the
    variants decide, plus the variant's; the package importable."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(VARIANTS[variant], TF_CPP_MIN_LOG_LEVEL="3")
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env


def measure(variant, steps, batch_size=64, warmup_steps=10):
    """Train in this process as a user's script would; returns images/s and whether
    oneDNN ran. Run it in a fresh process (`main` does)."""
    if variant == "configured":
        from ganomaly_keras import configure_tensorflow

        configure_tensorflow()
    import keras
    import numpy as np

    from ganomaly_keras import GANomaly
    from ganomaly_keras.backend import onednn_enabled

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(-1, 1, (batch_size * 4, 32, 32, 1))
    images = images.astype("float32")
    model = GANomaly(image_size=32, channels=1)
    model.compile()
    model.fit(images, batch_size=batch_size, epochs=1, steps_per_epoch=warmup_steps, verbose=0)
    start = time.perf_counter()
    model.fit(images, batch_size=batch_size, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    return {"images_per_second": steps * batch_size / seconds, "onednn": onednn_enabled()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/results/onednn.json")
    parser.add_argument("--pairs", type=int, default=3, help="rounds of every variant")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)

    results = machine_results(args.out)
    rounds = alternate(
        results, f"steps{args.steps}", args.variants, args.pairs,
        lambda variant: measure_in_child(
            "benchmarks.onednn", {"variant": variant, "steps": args.steps},
            environment=environment(variant),
        ),
    )
    print(f"CPU flags: {' '.join(speed_flags())}; {os.cpu_count()} CPUs; "
          f"32x32x1, batch 64, {args.steps} timed steps, {args.pairs} rounds")
    print("| variant | oneDNN | images/s (median) | vs off (median of rounds) |")
    print("|---|---|---|---|")
    for variant in args.variants:
        speeds = [r[variant]["images_per_second"] for r in rounds]
        ratio = ("" if "off" not in args.variants else "{:.2f}x".format(statistics.median(
            r[variant]["images_per_second"] / r["off"]["images_per_second"] for r in rounds)))
        print(f"| {variant} | {rounds[0][variant]['onednn']} | "
              f"{statistics.median(speeds):.1f} | {ratio} |")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1].startswith("{"):
        print(json.dumps(measure(**json.loads(sys.argv[1]))))
    else:
        main()
