"""The speed benchmark's machinery: resumable results, alternation, ratios, the
timing of a run's phases, and the PyTorch comparator's faithfulness (where torch is
installed: the `[bench]` extra, not part of the test command)."""

import json
import os

import keras
import numpy as np
import pytest
from settings import TESTS

from benchmarks import measurement
from benchmarks.measurement import (
    BlockWorker,
    alternate,
    interleave,
    machine_results,
    ratios,
)
from benchmarks.speed import DESIGN_PARAMETERS_32X1, run_benchmark
from benchmarks.speed_report import markdown_report
from ganomaly_keras.training.timing import PhaseTimes, TimedCallback, is_default


def test_results_file_measures_once_and_resumes(tmp_path):
    path = str(tmp_path / "results.json")
    calls = []
    first = machine_results(path)
    assert first.measure("a", lambda: calls.append("a") or 1) == 1
    assert first.measure("a", lambda: calls.append("again") or 2) == 1
    resumed = machine_results(path)
    assert resumed.measure("a", lambda: calls.append("resumed") or 3) == 1
    assert calls == ["a"]


def test_results_from_another_machine_are_not_mixed_in(tmp_path, monkeypatch):
    path = str(tmp_path / "results.json")
    machine_results(path).measure("a", lambda: 1)
    monkeypatch.setattr(measurement, "speed_flags", lambda: ["a_different_cpu"])
    assert machine_results(path).measure("a", lambda: 2) == 2


def test_alternation_runs_candidates_in_turn_and_resumes_after_an_interruption(tmp_path):
    path = str(tmp_path / "results.json")
    order = []

    def measure(candidate):
        if len(order) == 3:
            raise KeyboardInterrupt  # the machine goes away mid-benchmark
        order.append(candidate)
        return {"images_per_s": {"a": 200.0, "b": 100.0}[candidate] * len(order)}

    with pytest.raises(KeyboardInterrupt):
        alternate(machine_results(path), "speed", ["a", "b"], 2, measure)
    assert order == ["a", "b", "a"]
    order.append("resumed")  # from here the measure function succeeds again
    rounds = alternate(machine_results(path), "speed", ["a", "b"], 2, lambda c: {"images_per_s": 50.0})
    assert order == ["a", "b", "a", "resumed"]  # only round 1's b was measured again
    assert [r["a"]["images_per_s"] for r in rounds] == [200.0, 600.0]
    assert [r["b"]["images_per_s"] for r in rounds] == [200.0, 50.0]
    result = ratios(rounds, "a", "b", lambda row: row["images_per_s"])
    assert result == {"per_round": [1.0, 12.0], "median": 6.5}


def _mnist_report(auto_aurocs):
    per_digit = {
        str(digit): {
            "float32": {"test_auroc": 0.8, "minutes": 1.0},
            "mixed_bfloat16": {"test_auroc": auroc, "minutes": 0.7},
        }
        for digit, auroc in enumerate(auto_aurocs)
    }
    return {
        "machine": {"processor": "x86_64", "cpus": 2, "cpu_flags": ["avx512_bf16"],
                    "tensorflow": "2.21.0", "keras": "3.15.1"},
        "precisions": {"float32": "float32", "auto": "mixed_bfloat16"},
        "matmul_peak_gflops": 100.0,
        "mnist": {"epochs": 3, "seed": 0, "policies": ["float32", "mixed_bfloat16"],
                  "per_digit": per_digit},
    }


def test_the_mnist_table_holds_each_precision_against_float32s_auroc():
    within = markdown_report(_mnist_report([0.805, 0.792]))
    assert "| mean | 0.800 | " in within
    assert "largest test AUROC difference 0.008 over 2 digits (within 0.01)" in within
    outside = markdown_report(_mnist_report([0.805, 0.75]))
    assert "largest test AUROC difference 0.050 over 2 digits (outside 0.01)" in outside


def test_the_training_table_gives_median_ratios_with_their_quartiles():
    from benchmarks.measurement import ratios as round_ratios

    candidates = ["keras/float32", "keras/float32/spe10", "torch/float32"]
    speeds = {"keras/float32": [100, 200, 150, 120], "keras/float32/spe10": [110, 190, 165, 120],
              "torch/float32": [50, 100, 100, 60]}
    rounds = [{c: {"images_per_s": speeds[c][i]} for c in candidates} for i in range(4)]
    value = lambda row: row["images_per_s"]  # noqa: E731
    report = dict(_mnist_report([0.8]), training={
        "setting": {"image_size": 32, "channels": 1, "batch_size": 64, "steps": 10},
        "rounds": rounds, "candidates": candidates,
        "median_images_per_s": {c: float(np.median(speeds[c])) for c in candidates},
        "flops_per_image": {"training": 1e9},
        "vs_first": {c: round_ratios(rounds, c, candidates[0], value) for c in candidates[1:]},
        "vs_torch": {c: round_ratios(rounds, c, "torch/float32", value) for c in candidates[:-1]},
    })
    text = markdown_report(report)
    assert "4 rounds of one timed 10-step epoch per candidate" in text
    # float32 against torch: 2.0, 2.0, 1.5, 2.0 -> median 2.00, quartiles 1.88-2.00.
    assert "| keras/float32 | 135.0 (100-200) | 1.35 |  | 2.00x (1.88-2.00) |" in text
    # spe10 against float32: 1.1, 0.95, 1.1, 1.0 -> median 1.05, quartiles 0.99-1.10.
    assert "| keras/float32/spe10 | 142.5 (110-190) | 1.43 | 1.05x (0.99-1.10) | 1.95x (1.84-2.05) |" in text


class _Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        import time

        time.sleep(0.05)


def test_timed_callbacks_count_their_hooks_and_keep_default_hooks_default():
    seconds = {}
    timed = TimedCallback(_Slow(), seconds)
    assert is_default(timed.on_train_batch_end)  # batch hooks stay asynchronous
    assert not is_default(timed.on_epoch_end)
    timed.on_epoch_end(0)
    timed.on_epoch_end(1)
    assert 0.1 <= seconds["_Slow"] < 1.0


def test_phase_times_split_fit_into_steps_and_callbacks():
    times = PhaseTimes()
    with times.phase("fit"):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(np.zeros((8, 2)), np.zeros(8), epochs=2, verbose=0,
                  callbacks=times.timed([_Slow()]))
    summary = times.summary()
    assert summary["callbacks"]["_Slow"] >= 0.1
    seconds = summary["seconds"]
    assert seconds["training_steps"] + seconds["callbacks"] == pytest.approx(seconds["fit"], abs=0.02)
    assert 0 < summary["training_steps_fraction"] < 1


@pytest.mark.slow
def test_the_benchmark_measures_in_children_and_a_rerun_measures_nothing(tmp_path, monkeypatch):
    out = str(tmp_path / "bench")
    options = dict(out_dir=out, training_rounds=2, training_steps=2, precisions=("float32",),
                   skip_latency=True, image_size=16)
    report = run_benchmark(**options)
    training = report["training"]
    assert training["candidates"] == ["keras/float32"]
    assert len(training["rounds"]) == 2
    assert all(r["keras/float32"]["images_per_s"] > 0 for r in training["rounds"])
    assert training["setting"]["steps"] == 2
    with open(f"{out}/results.json") as handle:
        assert len(json.load(handle)["results"]) == 3  # the peak and two blocks

    def no_measuring(*args, **kwargs):
        raise AssertionError("a resumed benchmark measured again")

    monkeypatch.setattr(measurement, "measure_in_child", no_measuring)
    monkeypatch.setattr(measurement, "BlockWorker", no_measuring)
    again = run_benchmark(**options)
    assert again["training"]["median_images_per_s"] == training["median_images_per_s"]


class _FakeWorker:
    def __init__(self, candidate, log):
        self.candidate, self.log = candidate, log

    def run_block(self):
        self.log.append(self.candidate)
        return {"images_per_s": len(self.log)}

    def close(self):
        self.log.append(f"close {self.candidate}")


def test_interleave_reverses_the_order_every_other_round_and_resumes(tmp_path):
    path = str(tmp_path / "results.json")
    log = []
    rounds = interleave(machine_results(path), "t", ["a", "b", "c"], 3,
                        lambda candidate: _FakeWorker(candidate, log))
    assert log[:9] == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert sorted(log[9:]) == ["close a", "close b", "close c"]
    assert [r["b"]["images_per_s"] for r in rounds] == [2, 5, 8]
    # A rerun with one more round starts workers again for that round only.
    log.clear()
    again = interleave(machine_results(path), "t", ["a", "b", "c"], 4,
                       lambda candidate: _FakeWorker(candidate, log))
    assert log[:3] == ["c", "b", "a"]
    assert again[:3] == rounds
    log.clear()
    interleave(machine_results(path), "t", ["a", "b", "c"], 4,
               lambda candidate: pytest.fail("nothing is missing: no worker starts"))


def _test_worker(monkeypatch, **options):
    here = TESTS
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    return BlockWorker("block_worker_task", options, timeout=60)


def test_block_worker_keeps_its_process_between_blocks(monkeypatch):
    worker = _test_worker(monkeypatch, name="w")
    try:
        # The same process counts on; stdout chatter is not taken for a reply.
        assert [worker.run_block() for _ in range(3)] == [
            {"blocks": n, "name": "w"} for n in (1, 2, 3)
        ]
    finally:
        worker.close()
    assert worker._process.returncode == 0


def test_block_worker_reports_a_dead_worker_with_its_error(monkeypatch):
    worker = _test_worker(monkeypatch, name="w", fail_after=1)
    try:
        worker.run_block()
        with pytest.raises(RuntimeError, match="fails on purpose"):
            worker.run_block()
    finally:
        worker.close()


def test_against_torch_without_torch_names_the_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def without_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_torch)
    with pytest.raises(RuntimeError, match=r"\[bench\]"):
        run_benchmark(out_dir=str(tmp_path), against_torch=True)


# ----------------------------------------------- the PyTorch comparator (torch only)

@pytest.mark.parametrize("size,channels,expected", [
    (32, 1, DESIGN_PARAMETERS_32X1),
    # DESIGN.md section 1's table.
    (32, 3, {"G_E": 1_068_800, "G_D": 1_068_928, "G_total": 3_206_528, "D_total": 663_296}),
    (64, 3, {"G_E": 3_576_576, "G_D": 3_576_704, "G_total": 10_729_856, "D_total": 2_765_568}),
])
def test_the_torch_comparator_has_the_reference_parameter_counts(size, channels, expected):
    pytest.importorskip("torch")
    from benchmarks import torch_comparator

    assert torch_comparator.parameter_counts(*torch_comparator.build(size, channels)) == expected


def _copy_weights(keras_layers, torch_modules):
    """Keras conv / BatchNorm weights into the same torch modules, in order."""
    import torch

    keras_layers = [
        layer for layer in keras_layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.BatchNormalization))
    ]
    torch_modules = [
        m for m in torch_modules
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.BatchNorm2d))
    ]
    assert len(keras_layers) == len(torch_modules)
    with torch.no_grad():
        for layer, module in zip(keras_layers, torch_modules):
            if isinstance(layer, keras.layers.BatchNormalization):
                gamma, beta, mean, variance = (np.asarray(w) for w in layer.weights)
                for target, value in zip(
                    (module.weight, module.bias, module.running_mean, module.running_var),
                    (gamma, beta, mean, variance),
                ):
                    target.copy_(torch.from_numpy(value))
            else:
                # Keras (kh, kw, in, out) / transpose (kh, kw, out, in) -> torch
                # (out, in, kh, kw) / transpose (in, out, kh, kw): the same permutation.
                kernel = np.asarray(layer.kernel).transpose(3, 2, 0, 1)
                module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))


def _encoder_layers(encoder):
    return list(encoder.feature_blocks) + [encoder.final_conv]


def test_the_torch_step_computes_the_keras_losses_from_the_same_weights():
    """Same weights and batch: the comparator's G and D losses equal GANomaly's
    (training-mode BatchNorm), so it times the same step."""
    torch = pytest.importorskip("torch")
    from benchmarks import torch_comparator
    from ganomaly_keras import GANomaly

    model = GANomaly(image_size=32, channels=1)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype("float32")
    losses = {k: float(v) for k, v in model._step_losses(x, training=True).items()}
    generator, discriminator = torch_comparator.build(32, 1)
    g, d = model.generator, model.discriminator
    _copy_weights(_encoder_layers(g.encoder), [*generator.encoder.modules()])
    _copy_weights(list(g.decoder.blocks), [*generator.decoder.modules()])
    _copy_weights(_encoder_layers(g.latent_encoder), [*generator.latent_encoder.modules()])
    _copy_weights(_encoder_layers(d.body), [*discriminator.modules()])
    step = torch_comparator.TrainingStep(generator, discriminator)
    g_loss, d_loss = step(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    assert g_loss == pytest.approx(losses["g_loss"], rel=1e-4)
    assert d_loss == pytest.approx(losses["d_loss"], rel=1e-4)
