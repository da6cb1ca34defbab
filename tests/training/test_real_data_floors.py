"""Floors on real inspection data, skipped where ../shared is absent.

Each case trains a folder run for a minute or less and requires test image AUROC,
pixel AUROC and AUPRO above floors set about 0.1 below what was measured here (for
other CPUs' kernels); a broken score or map gives AUROC about 0.5 and AUPRO about
0.15.
"""

import os

import pytest

from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.run import train_run
from tests.settings import SHARED_DATA

CASES = {
    # PIPED, one paper type, 32 px, 60 steps of the paper's training: about 11 s.
    # Measured twice: 1.000 / 0.975 / 0.687 (feature_max chosen).
    "piped": dict(
        path=os.path.join(SHARED_DATA, "piped", "PA_FLR01_TL"),
        data=dict(image_size=32),
        model=dict(width=16, latent_size=32),
        budget=dict(steps=60, batch_size=32),
        floors=(0.90, 0.90, 0.45),
    ),
    # KolektorSDD at half its working resolution (320x128, tiles of 32 px), 100 steps
    # of the folder run's training (restoration of synthetic defects with the SSIM
    # loss, segmentation head), one validation: about a minute.
    # Measured twice, the same: 0.730 / 0.784 / 0.475 (residual_max chosen).
    "kolektorsdd": dict(
        path=os.path.join(SHARED_DATA, "kolektorsdd"),
        data=dict(image_size=32, working_size=(320, 128)),
        model=dict(width=16, latent_size=32, segmentation_head=True, ssim_weight=1.0),
        budget=dict(steps=100, validation_every=100, batch_size=16),
        floors=(0.62, 0.68, 0.33),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_folder_run_detects_and_localises_real_defects(name, tmp_path):
    case = CASES[name]
    if not os.path.isdir(case["path"]):
        pytest.skip(f"{case['path']} is not beside the repository")
    metrics = train_run(
        str(tmp_path / "run"),
        DataSpec(source="folder", path=case["path"], **case["data"]),
        dict(case["model"], score="auto"),
        export_formats=(), verbose=0, **case["budget"],
    )
    if "working_size" in case["data"]:
        assert metrics["data"]["working_size"] == list(case["data"]["working_size"])
    test = metrics["test"]
    floors = dict(zip(("auroc", "pixel_auroc", "aupro"), case["floors"]))
    for metric, floor in floors.items():
        assert test[metric] >= floor, (metric, metrics)
