"""How fast and how good: training throughput, FLOPs, peak, latency, MNIST AUROC.

`run_benchmark` (behind `ganomaly-keras benchmark`) measures on this machine, in one
run:

- steady-state training images/s at batch 64 for 32x32x1 and 32x32x3 (width 64,
  nz 100, float32), against the reference PyTorch code's 374 images/s (measured by the
  project on another 2-core CPU: a rough guide, not a side-by-side ratio);
- FLOPs per training image, counted from the convolution layers' shapes: forward
  FLOPs of G (encoder, decoder, encoder) plus two forward passes of D (on x and on
  x_hat), times 3 for the backward pass (gradients with respect to inputs and
  weights), the usual accounting;
- the machine's float32 matrix-multiply peak (a large `tf.matmul`), and the fraction
  of it that training reaches;
- inference latency per image of Keras, the SavedModel and every TFLite variant at
  batch 1 and batch 64 (TFLite runs batch 1, so its batch-64 figure is 64 calls);
- optionally the paper's MNIST leave-one-digit-out protocol for chosen digits.
"""

import os
import platform
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.models import GANomaly
from ganomaly_keras.precision import dtype_policy as policy_scope

# The reference PyTorch code's training speed, 32x32x1, batch 64, 2 threads, measured
# by the project on another 2-core machine (not side by side with this package).
REFERENCE_IMAGES_PER_S = 374.0


def _conv_flops(blocks, shape):
    """Forward FLOPs (2 per multiply-add) of the Conv2D/Conv2DTranspose layers in
    `blocks` run in order from `shape`; returns (flops, output shape)."""
    flops = 0
    for layer in blocks:
        output = layer.compute_output_shape(shape)
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, _, _ = layer.kernel.shape  # (kh, kw, filters, in_channels)
            flops += 2 * shape[1] * shape[2] * kh * kw * shape[3] * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, _, _ = layer.kernel.shape
            flops += 2 * output[1] * output[2] * kh * kw * shape[3] * layer.filters
        shape = output
    return flops, shape


def _encoder_flops(encoder, shape):
    return _conv_flops(list(encoder.feature_blocks) + [encoder.final_conv], shape)


def training_flops_per_image(model):
    """FLOPs of one training image for a GANomaly model, from its layer shapes.

    Returns:
        dict: forward FLOPs of the generator and discriminator, and the training
        total `3 * (G + 2 * D)`.
    """
    shape = (1,) + model.image_shape
    encoder, coded = _encoder_flops(model.generator.encoder, shape)
    decoder, image = _conv_flops(model.generator.decoder.blocks, coded)
    latent, _ = _encoder_flops(model.generator.latent_encoder, image)
    discriminator, _ = _encoder_flops(model.discriminator.body, shape)
    generator = encoder + decoder + latent
    return {
        "generator_forward": generator,
        "discriminator_forward": discriminator,
        "training": 3 * (generator + 2 * discriminator),
    }


def matmul_peak_gflops(size=2048, repeats=10):
    """This machine's float32 matrix-multiply throughput (GFLOP/s), best of runs."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    multiply = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    multiply().numpy()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        multiply().numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def training_throughput(
    image_size=32,
    channels=1,
    batch_size=64,
    steps=30,
    epochs=3,
    jit_compile=False,
    dtype_policy="float32",
    **model_options,
):
    """Steady-state training images/s: the median of `epochs` timed epochs of `steps`
    steps each, after one untimed epoch (tracing). Random images: speed does not
    depend on content. `dtype_policy` "mixed_bfloat16" or "mixed_float16" trains in
    mixed precision (losses stay float32)."""
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
    model.compile(jit_compile=jit_compile)
    timer = _EpochTimer()
    model.fit(dataset, epochs=epochs + 1, verbose=0, callbacks=[timer])
    seconds = float(np.median(timer.seconds[1:]))
    return {
        "image_shape": list(shape),
        "batch_size": batch_size,
        "jit_compile": jit_compile,
        "dtype_policy": dtype_policy,
        "images_per_s": batch_size * steps / seconds,
        "flops_per_image": training_flops_per_image(model),
    }


def inference_latencies(image_size=32, channels=1, repeats=30):
    """ms per image of every export format at batch 1 and 64, on a freshly exported
    (untrained, calibrated on random images) model: latency does not depend on the
    weights' values."""
    from ganomaly_keras.export import export_model
    from ganomaly_keras.runtimes import latency_ms, load_runtimes

    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=image_size, channels=channels)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (128, image_size, image_size, channels)).astype("float32")
    model.calibrate(images)
    pixels = rng.integers(0, 256, (64, image_size, image_size, channels), dtype=np.uint8)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        export_dir = os.path.join(folder, "export")
        export_model(model, export_dir, representative_data=images)
        for runtime in load_runtimes(export_dir, num_threads=1):
            rows.append(
                {
                    "name": runtime.name,
                    "batch1_ms": latency_ms(runtime, pixels, 1, repeats),
                    "batch64_ms": latency_ms(runtime, pixels, 64, max(3, repeats // 10)),
                }
            )
    return rows


def mnist_protocol(npz, digits, epochs, seed=0, run_root=None):
    """The paper's leave-one-digit-out protocol through `train_run`: per digit, the
    test AUROC of the epoch selected by validation AUROC."""
    from ganomaly_keras.data.spec import DataSpec
    from ganomaly_keras.run import train_run

    run_root = run_root or tempfile.mkdtemp(prefix="ganomaly-mnist-")
    rows = {}
    for digit in digits:
        spec = DataSpec(source="npz", path=npz, abnormal_class=digit, seed=seed)
        start = time.perf_counter()
        metrics = train_run(
            os.path.join(run_root, f"digit{digit}"),
            spec,
            epochs=epochs,
            export_formats=(),
            overwrite=True,
            verbose=2,
        )
        rows[str(digit)] = {
            "test_auroc": metrics["test"]["auroc"],
            "validation_auroc": metrics["validation"]["auroc"],
            "selected_epoch": metrics["selected_epoch"],
            "minutes": round((time.perf_counter() - start) / 60, 1),
        }
    mean = float(np.mean([r["test_auroc"] for r in rows.values()]))
    return {"epochs": epochs, "seed": seed, "per_digit": rows, "mean_test_auroc": mean}


def run_benchmark(training_steps=30, mnist=None, digits=(0, 1, 2), epochs=3, jit_compile=False, skip_training=False):
    """Every measurement above, as one JSON-able report."""
    report = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "inter_op_threads": os.environ.get("TF_NUM_INTEROP_THREADS"),
        },
        "matmul_peak_gflops": matmul_peak_gflops(),
    }
    if not skip_training:
        report["training"] = []
        settings = [
            dict(channels=1, steps=training_steps, jit_compile=jit_compile),
            dict(channels=3, steps=training_steps, jit_compile=jit_compile),
            # The alternatives to the default step: XLA and bfloat16, at 32x32x1.
            dict(channels=1, steps=training_steps, jit_compile=True),
            # bfloat16 is emulated without AVX-512 BF16 and very slow: few steps.
            dict(channels=1, steps=3, epochs=1, dtype_policy="mixed_bfloat16"),
        ]
        if jit_compile:
            settings.pop(2)
        for setting in settings:
            row = training_throughput(**setting)
            flops = row["flops_per_image"]["training"]
            row["achieved_gflops"] = row["images_per_s"] * flops / 1e9
            row["fraction_of_peak"] = row["achieved_gflops"] / report["matmul_peak_gflops"]
            row["vs_reference_374"] = row["images_per_s"] / REFERENCE_IMAGES_PER_S
            report["training"].append(row)
    report["inference"] = inference_latencies()
    if mnist:
        report["mnist"] = mnist_protocol(mnist, digits, epochs)
    return report


def markdown_report(report):
    """The report as Markdown tables."""
    lines = [f"matmul peak (float32, this machine): {report['matmul_peak_gflops']:.1f} GFLOP/s", ""]
    if "training" in report:
        lines += [
            "| training | images/s | vs reference 374 | GFLOP/image | achieved GFLOP/s | fraction of peak |",
            "|---|---|---|---|---|---|",
        ]
        for row in report["training"]:
            shape = "x".join(map(str, row["image_shape"]))
            lines.append(
                f"| {shape}, batch {row['batch_size']}, jit {row['jit_compile']}, "
                f"{row['dtype_policy']} | "
                f"{row['images_per_s']:.1f} | {row['vs_reference_374']:.2f}x | "
                f"{row['flops_per_image']['training'] / 1e9:.3f} | "
                f"{row['achieved_gflops']:.1f} | {row['fraction_of_peak']:.2f} |"
            )
        lines.append("")
    lines += ["| inference (32x32x1) | ms/image, batch 1 | ms/image, batch 64 |", "|---|---|---|"]
    for row in report["inference"]:
        lines.append(f"| {row['name']} | {row['batch1_ms']:.3f} | {row['batch64_ms']:.3f} |")
    if "mnist" in report:
        mnist = report["mnist"]
        lines += [
            "",
            f"MNIST leave-one-digit-out, {mnist['epochs']} epochs, seed {mnist['seed']} "
            "(epoch selected on validation AUROC, test scored once):",
            "",
            "| digit | test AUROC | validation AUROC | selected epoch |",
            "|---|---|---|---|",
        ]
        for digit, row in mnist["per_digit"].items():
            lines.append(
                f"| {digit} | {row['test_auroc']:.3f} | {row['validation_auroc']:.3f} | "
                f"{row['selected_epoch'] + 1} |"
            )
        lines.append(f"| mean | {mnist['mean_test_auroc']:.3f} | | |")
    return "\n".join(lines)
