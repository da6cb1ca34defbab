"""Floors on real inspection data, skipped where ../shared is absent."""

import os

import pytest

from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.run import train_run
from tests.settings import SHARED_DATA

PIPED = os.path.join(SHARED_DATA, "piped")


TYPE = os.path.join(PIPED, "PA_FLR01_TL")


# 32 px, width 16, 60 steps: about 11 s here.
FLOOR_STEPS = 60
AUROC_FLOOR, PIXEL_FLOOR, AUPRO_FLOOR = 0.90, 0.90, 0.45


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(TYPE), reason="PIPED is not beside the repository")
def test_piped_folder_run_detects_and_localises_impurities(tmp_path):
    metrics = train_run(
        str(tmp_path / "run"),
        DataSpec(source="folder", path=TYPE, image_size=32),
        {"width": 16, "latent_size": 32, "score": "auto"},
        steps=FLOOR_STEPS, batch_size=32, export_formats=(), verbose=0,
    )
    test = metrics["test"]
    # Measured twice: image AUROC 1.000, pixel AUROC 0.975, AUPRO 0.687 (score
    # feature_max chosen on validation). The floors leave room for CPU
    # nondeterminism, not for a broken score or map (AUROC about 0.5, AUPRO about
    # 0.15 for a random map).
    assert test["auroc"] >= AUROC_FLOOR, metrics
    assert test["pixel_auroc"] >= PIXEL_FLOOR, metrics
    assert test["aupro"] >= AUPRO_FLOOR, metrics

