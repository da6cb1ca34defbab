"""How fast and how good, side by side on the machine at hand.

`run_benchmark` (behind `ganomaly-keras benchmark`) measures on this machine in child
processes, candidates alternating round by round (`benchmarks.measurement`), saved
to `<out_dir>/results.json` after every measurement so that an interrupted run resumes:

- training images/s at 32x32x1, batch 64 (width 64, nz 100) under each precision asked
  for (`float32` and `auto` by default, `auto` resolved from the CPU flags), and with
  `against_torch` the PyTorch comparator (`benchmarks.torch_comparator`: the same
  networks and step): one warmed-up worker process per candidate, timed blocks of
  `model.fit` epochs interleaved between them (`measurement.interleave`); the ratio
  within each round and its median;
- FLOPs per training image, counted from the convolution layers' shapes: forward
  FLOPs of G (encoder, decoder, encoder) plus two forward passes of D (on x and on
  x_hat), times 3 for the backward pass (gradients with respect to inputs and
  weights), the usual accounting;
- the machine's float32 matrix-multiply peak (a large `tf.matmul`), and the fraction
  of it that training reaches;
- inference latency per image of Keras, the SavedModel and every TFLite variant at
  batch 1 and batch 64 (TFLite runs batch 1, so its batch-64 figure is 64 calls), and
  with `against_torch` PyTorch's eval-mode forward, alternating;
- optionally the paper's MNIST leave-one-digit-out protocol for chosen digits under
  each precision, so that `auto`'s AUROC can be held against float32's.

Run this module as `python -m benchmarks.speed '{"measure": ...}'` to take one
measurement in this process, or with `'{"worker": "training", ...}'` to serve timed
blocks (what the children do).
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.flops import matmul_peak_gflops, training_flops_per_image
from benchmarks.mnist import mnist_digit
from benchmarks.speed_report import markdown_report
from ganomaly_keras.models import GANomaly
from ganomaly_keras.training.precision import dtype_policy as policy_scope


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def training_block(
    image_size=32,
    channels=1,
    batch_size=64,
    steps=10,
    jit_compile=False,
    dtype_policy="float32",
    steps_per_execution=1,
    **model_options,
):
    """A GANomaly training on random images (speed does not depend on content), warmed
    up by one untimed epoch (tracing), and the function that times one more epoch.

    Args:
        image_size, channels, batch_size: the images and batches.
        steps: steps per epoch.
        jit_compile, steps_per_execution: passed to `compile`.
        dtype_policy: "float32", "mixed_bfloat16" or "mixed_float16" (losses stay
            float32).
        **model_options: more `GANomaly` arguments.

    Returns:
        a function that trains one epoch of `steps` steps through `model.fit` and
        returns `{"images_per_s", ...}`, timed from the epoch's start to its end.
    """
    keras.utils.set_random_seed(0)
    shape = (image_size, image_size, channels)
    x = np.random.default_rng(0).uniform(-1, 1, (batch_size * steps,) + shape)
    dataset = (
        tf.data.Dataset.from_tensor_slices(x.astype("float32"))
        .batch(batch_size, drop_remainder=True)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )
    with policy_scope(dtype_policy):
        model = GANomaly(image_size=image_size, channels=channels, **model_options)
    model.compile(jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    model.fit(dataset, epochs=1, verbose=0)
    row = {
        "framework": f"keras {keras.__version__}, tensorflow {tf.__version__}",
        "image_shape": list(shape),
        "batch_size": batch_size,
        "jit_compile": jit_compile,
        "steps_per_execution": steps_per_execution,
        "dtype_policy": dtype_policy,
        "flops_per_image": training_flops_per_image(model),
    }

    def one_epoch():
        timer = _EpochTimer()
        model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
        return dict(row, images_per_s=batch_size * steps / timer.seconds[0])

    return one_epoch


def training_throughput(steps=30, epochs=3, **options):
    """Steady-state training images/s of one process: the median of `epochs` timed
    epochs of `training_block(steps=steps, **options)`."""
    from benchmarks.measurement import median_of_blocks

    return median_of_blocks(training_block(steps=steps, **options), epochs)


def inference_latencies(image_size=32, channels=1, repeats=30):
    """ms per image of every export format at batch 1 and 64, on a freshly exported
    (untrained, calibrated on random images) model: latency does not depend on the
    weights' values."""
    from benchmarks.measurement import batch_latencies
    from ganomaly_keras.deploy.export import export_model
    from ganomaly_keras.deploy.runtimes import load_runtimes

    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=image_size, channels=channels)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (128, image_size, image_size, channels)).astype("float32")
    model.calibrate(images)
    pixels = rng.integers(0, 256, (64, image_size, image_size, channels), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        export_dir = os.path.join(folder, "export")
        export_model(model, export_dir, representative_data=images)
        return [
            {"name": runtime.name, **batch_latencies(runtime, pixels, repeats)}
            for runtime in load_runtimes(export_dir, num_threads=1)
        ]


def _peak():
    return {"gflops": matmul_peak_gflops()}


# What `python -m benchmarks.speed '{"measure": name, ...}'` can measure.
MEASUREMENTS = {
    "peak": _peak,
    "training": training_throughput,
    "latency": inference_latencies,
    "mnist": mnist_digit,  # benchmarks.mnist: the one MNIST protocol
}

# What `python -m benchmarks.speed '{"worker": name, ...}'` serves, one timed
# block per request (`benchmarks.measurement.BlockWorker`).
BLOCKS = {"training": training_block}


def _in_child(module, measure, **arguments):
    from benchmarks.measurement import measure_in_child

    return measure_in_child(module, {"measure": measure, **arguments})


def _median(values):
    return float(statistics.median(values))


def _keras_candidates(policies, steps_per_execution):
    """`{name: (policy, steps per execution)}`: "keras/<policy>", with "/spe<n>" where
    n is not 1."""
    return {
        f"keras/{policy}" + (f"/spe{n}" if n != 1 else ""): (policy, n)
        for policy in policies for n in steps_per_execution
    }


def _training_section(results, policies, against_torch, rounds, steps, image_size, jit_compile,
                      steps_per_execution):
    from benchmarks.measurement import BlockWorker, interleave, ratios

    keras_candidates = _keras_candidates(policies, steps_per_execution)
    candidates = list(keras_candidates)
    if against_torch:
        candidates.append("torch/float32")
    setting = dict(image_size=image_size, channels=1, batch_size=64, steps=steps)

    def start_worker(candidate):
        if candidate == "torch/float32":
            return BlockWorker("benchmarks.torch_comparator", {"worker": "training", **setting})
        policy, per_execution = keras_candidates[candidate]
        return BlockWorker(__name__, {
            "worker": "training", "dtype_policy": policy, "jit_compile": jit_compile,
            "steps_per_execution": per_execution, **setting,
        })

    prefix = f"training/{image_size}x{image_size}x1/batch64/steps{steps}/jit{jit_compile}/interleaved"
    measured = interleave(results, prefix, candidates, rounds, start_worker)
    images_per_s = lambda row: row["images_per_s"]  # noqa: E731
    section = {
        "setting": setting,
        "rounds": measured, "candidates": candidates,
        "median_images_per_s": {c: _median([r[c]["images_per_s"] for r in measured]) for c in candidates},
        "flops_per_image": measured[0][candidates[0]]["flops_per_image"],
    }
    section["vs_first"] = {
        c: ratios(measured, c, candidates[0], images_per_s) for c in candidates[1:]
    }
    if against_torch:
        parameters = measured[0]["torch/float32"]["parameters"]
        section["torch_parameters_match_design"] = parameters == DESIGN_PARAMETERS_32X1
        section["vs_torch"] = {
            c: ratios(measured, c, "torch/float32", images_per_s) for c in candidates[:-1]
        }
    return section


# docs/design.md section 1's trainable parameter counts at 32x32x1 (nz 100, width 64).
DESIGN_PARAMETERS_32X1 = {"G_E": 1_066_752, "G_D": 1_066_880, "G_total": 3_200_384, "D_total": 661_248}


def _latency_section(results, against_torch, pairs):
    from benchmarks.measurement import alternate

    candidates = ["keras", "torch"] if against_torch else ["keras"]

    def measure(candidate):
        if candidate == "torch":
            return [_in_child("benchmarks.torch_comparator", "scoring")]
        return _in_child(__name__, "latency")

    rounds = alternate(results, "latency/32x32x1", candidates, pairs, measure)
    names = [row["name"] for candidate in candidates for row in rounds[0][candidate]]
    by_name = [{row["name"]: row for c in candidates for row in r[c]} for r in rounds]
    section = {"rounds": rounds, "median": {
        name: {b: _median([r[name][b] for r in by_name]) for b in ("batch1_ms", "batch64_ms")}
        for name in names
    }}
    if against_torch:
        torch_name = rounds[0]["torch"][0]["name"]
        section["torch_name"] = torch_name
        section["speedup_vs_torch"] = {
            name: {b: _median([r[torch_name][b] / r[name][b] for r in by_name])
                   for b in ("batch1_ms", "batch64_ms")}
            for name in names if name != torch_name
        }
    return section


def run_benchmark(
    out_dir="runs/benchmark", pairs=3, training_steps=10, precisions=("float32", "auto"),
    against_torch=False, mnist=None, digits=(0, 1, 2), epochs=3, jit_compile=False,
    skip_training=False, skip_latency=False, image_size=32, training_rounds=12,
    steps_per_execution=(1,),
):
    """Every measurement above, side by side, as one JSON-able report.

    Args:
        out_dir: `results.json` (after every measurement; a rerun on the same machine
            resumes) and `results.md`.
        pairs: rounds of alternating scoring-latency measurements (fresh processes).
        training_steps: training steps per timed block (one Keras epoch).
        training_rounds: timed training blocks per candidate, interleaved between
            warmed-up worker processes (`measurement.interleave`).
        precisions: training precisions to measure ("auto" is resolved from this
            machine's CPU flags; duplicates after resolving are measured once).
        against_torch: also measure the PyTorch comparator (needs the `[bench]` extra).
        mnist: path of mnist.npz, to run the paper's protocol per precision.
        digits: the held-out digits of that protocol.
        epochs: its training epochs.
        jit_compile: XLA for the Keras training measurements.
        steps_per_execution: `compile`'s steps per execution for them, an int or a
            sequence: each value is a candidate of its own ("keras/<policy>/spe<n>"
            where n is not 1).
        skip_training / skip_latency: leave a section out.
        image_size: the training measurements' image side (32; smaller for tests).

    Returns:
        the report dict (also in `<out_dir>/results.json` under "report").
    """
    from benchmarks.measurement import machine_results
    from ganomaly_keras.training.precision import resolve_precision

    if against_torch:
        try:
            import torch  # noqa: F401
        except ImportError as error:
            raise RuntimeError(
                'benchmark --against-torch needs PyTorch: pip install -e ".[bench]" '
                "(torch 2.13.0, CPU build)."
            ) from error
    policies = list(dict.fromkeys(resolve_precision(p) for p in precisions))
    results = machine_results(os.path.join(out_dir, "results.json"))
    report = {
        "machine": dict(
            results.identity,
            processor=platform.processor() or platform.machine(),
            tensorflow=tf.__version__, keras=keras.__version__,
        ),
        "precisions": {p: resolve_precision(p) for p in precisions},
        "matmul_peak_gflops": results.measure("matmul_peak", lambda: _in_child(__name__, "peak"))["gflops"],
    }
    if not skip_training:
        report["training"] = _training_section(
            results, policies, against_torch, training_rounds, training_steps, image_size,
            jit_compile, tuple(dict.fromkeys(np.atleast_1d(steps_per_execution).tolist())),
        )
    if not skip_latency:
        report["latency"] = _latency_section(results, against_torch, pairs)
    if mnist:
        report["mnist"] = {"epochs": epochs, "seed": 0, "policies": policies, "per_digit": {
            str(digit): {
                policy: results.measure(
                    f"mnist/{policy}/epochs{epochs}/seed0/digit{digit}",
                    lambda policy=policy, digit=digit: _in_child(
                        __name__, "mnist", npz=os.path.abspath(mnist), digit=digit,
                        epochs=epochs, precision=policy,
                        run_dir=os.path.abspath(os.path.join(out_dir, f"mnist-{policy}-digit{digit}")),
                    ),
                )
                for policy in policies
            }
            for digit in digits
        }}
    results.data["report"] = report
    results.save()
    with open(os.path.join(out_dir, "results.md"), "w") as handle:
        handle.write(markdown_report(report) + "\n")
    return report


if __name__ == "__main__":
    # `measurement.measure_in_child` set the package's TensorFlow settings in the
    # environment before this module imported TensorFlow.
    from benchmarks.measurement import serve_blocks

    request = json.loads(sys.argv[1])
    if "worker" in request:
        serve_blocks(BLOCKS[request.pop("worker")](**request))
    else:
        print(json.dumps(MEASUREMENTS[request.pop("measure")](**request)))
