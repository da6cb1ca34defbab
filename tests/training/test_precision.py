"""training/precision.py: the precision chosen from the CPU, and mixed precision's
models rebuilt in float32 for scoring and export."""

import json

import keras
import numpy as np
import pytest

from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.deploy.runtimes import KerasRuntime, load_runtimes
from ganomaly_keras.deploy.serving import to_uint8_images
from ganomaly_keras.models import GANomaly
from ganomaly_keras.saving import load_model
from ganomaly_keras.training.precision import (
    cpu_flags,
    dtype_policy,
    float32_copy,
    onednn_bfloat16_blocked,
    resolve_precision,
)
from ganomaly_keras.training.run import train_run
from tests.settings import TINY

# With oneDNN capped below bfloat16 on a bfloat16 CPU, TensorFlow's bfloat16 kernels
# cannot be created (a real AVX2 CPU emulates bfloat16 instead, and runs these).
needs_bfloat16 = pytest.mark.skipif(
    onednn_bfloat16_blocked(), reason="ONEDNN_MAX_CPU_ISA caps oneDNN below bfloat16"
)


@pytest.mark.parametrize(
    "flags, gpu, expected",
    [
        ({"avx2", "fma"}, False, "float32"),
        ({"avx2", "avx512f", "avx512_vnni"}, False, "float32"),  # AVX-512 without BF16
        ({"avx2", "avx512f", "avx512_bf16"}, False, "mixed_bfloat16"),
        ({"avx2", "amx_bf16", "amx_tile"}, False, "mixed_bfloat16"),
        ({"AVX512_BF16"}, False, "mixed_bfloat16"),
        ({"avx2"}, True, "float32"),  # mixed_float16 training is not supported yet
        (set(), False, "float32"),
    ],
)
def test_auto_precision_follows_the_cpu_flags_and_the_gpu(flags, gpu, expected, monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert resolve_precision("auto", flags=flags, gpu=gpu) == expected


def test_a_cap_below_bfloat16_means_float32_and_refuses_bfloat16(monkeypatch):
    bf16 = {"avx2", "avx512f", "avx512_bf16"}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert onednn_bfloat16_blocked(flags=bf16) and not onednn_bfloat16_blocked(flags={"avx2"})
    assert resolve_precision("auto", flags=bf16, gpu=False) == "float32"
    with pytest.raises(ValueError, match="ONEDNN_MAX_CPU_ISA=AVX2 caps oneDNN below"):
        resolve_precision("mixed_bfloat16", flags=bf16, gpu=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert resolve_precision("auto", flags=bf16, gpu=False) == "mixed_bfloat16"


def test_an_explicit_precision_is_kept_and_an_unknown_one_is_refused(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    for name in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert resolve_precision(name, flags=set(), gpu=False) == name
    with pytest.raises(ValueError, match="precision must be one of auto, float32"):
        resolve_precision("bfloat16")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu AVX2 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(str(tmp_path / "absent")) == set()


@needs_bfloat16
def test_a_bfloat16_model_is_rebuilt_in_float32_with_its_weights(digits16):
    images, labels = digits16
    x = images[labels != 0][:128]
    with dtype_policy("mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        mixed = GANomaly(image_size=16, channels=1, **TINY)
        mixed.compile(jit_compile=False)
    assert keras.config.dtype_policy().name == "float32"  # restored after the block
    mixed.fit(x, batch_size=32, epochs=1, verbose=0)
    mixed.calibrate(x)
    copy = float32_copy(mixed)
    assert (mixed.dtype_policy.name, copy.dtype_policy.name) == ("mixed_bfloat16", "float32")
    assert all(v.dtype == "float32" for v in mixed.weights)  # mixed keeps float32 weights
    for a, b in zip(mixed.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert copy.calibration == mixed.calibration
    exact = np.asarray(copy.predict(x, verbose=0))
    rounded = np.asarray(mixed.predict(x, verbose=0))
    assert exact.dtype == np.float32
    # bfloat16 keeps 8 bits of mantissa: close to, but not, the float32 scores.
    np.testing.assert_allclose(rounded, exact, rtol=0.05, atol=1e-3)
    assert not np.array_equal(rounded, exact)
    assert float32_copy(copy) is copy


@needs_bfloat16
def test_a_run_trained_in_bfloat16_saves_and_exports_float32(tmp_path):
    spec = DataSpec(image_size=16, seed=1)
    metrics = train_run(str(tmp_path / "run"), spec, TINY, steps=4, validation_every=2,
                        export_formats=("saved_model", "tflite_float32"), verbose=0,
                        precision="mixed_bfloat16")
    with open(tmp_path / "run" / "config.json") as handle:
        training = json.load(handle)["training"]
    assert (training["precision"], training["dtype_policy"]) == ("mixed_bfloat16", "mixed_bfloat16")
    model = load_model(str(tmp_path / "run" / "model.keras"))
    assert model.dtype_policy.name == "float32"
    images = spec.splits()["test"].images[:8]
    pixels = to_uint8_images(images)
    keras_scores = KerasRuntime(str(tmp_path / "run" / "model.keras")).run(pixels)["anomaly_score"]
    runtimes = load_runtimes(str(tmp_path / "run" / "export"))
    assert [r.name for r in runtimes] == ["saved_model", "tflite_float32"]
    for runtime in runtimes:
        scores = runtime.run(pixels)["anomaly_score"]
        np.testing.assert_allclose(scores, keras_scores, rtol=1e-4, err_msg=runtime.name)
    assert metrics["training_steps"] == 4


def test_float16_training_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="mixed_float16 training is not supported"):
        train_run(str(tmp_path / "run"), DataSpec(image_size=16), TINY, steps=1,
                  precision="mixed_float16")
    assert not (tmp_path / "run").exists()

