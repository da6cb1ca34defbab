"""benchmarks/speed.py and its report: measurements in children, resumption, and the
tables' ratios."""

import json

import numpy as np
import pytest

from benchmarks import measurement
from benchmarks.speed import run_benchmark
from benchmarks.speed_report import markdown_report


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

