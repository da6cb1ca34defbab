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



KOLEKTOR = os.path.join(SHARED_DATA, "kolektorsdd")
# Half KolektorSDD's working resolution (320x128, tiles of 32 px), width 16, 100 steps
# of the folder run's configuration (restoration of synthetic defects with the SSIM
# loss, segmentation head) and one validation: about a minute here.
KOLEKTOR_STEPS = 100
KOLEKTOR_AUROC_FLOOR, KOLEKTOR_PIXEL_FLOOR, KOLEKTOR_AUPRO_FLOOR = 0.62, 0.68, 0.33


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(KOLEKTOR), reason="KolektorSDD is not beside the repository")
def test_kolektorsdd_folder_run_finds_thin_cracks_at_a_rectangular_working_size(tmp_path):
    metrics = train_run(
        str(tmp_path / "run"),
        DataSpec(source="folder", path=KOLEKTOR, image_size=32, working_size=(320, 128)),
        {"width": 16, "latent_size": 32, "segmentation_head": True, "ssim_weight": 1.0,
         "score": "auto"},
        steps=KOLEKTOR_STEPS, validation_every=KOLEKTOR_STEPS, batch_size=16,
        export_formats=(), verbose=0,
    )
    assert metrics["data"]["working_size"] == [320, 128], metrics["data"]
    test = metrics["test"]
    # Measured twice, the same: image AUROC 0.730, pixel AUROC 0.784, AUPRO 0.475
    # (residual_max chosen). The floors sit about 0.1 below, for other CPUs' kernels;
    # a broken score or map gives AUROC about 0.5 and AUPRO about 0.15.
    assert test["auroc"] >= KOLEKTOR_AUROC_FLOOR, metrics
    assert test["pixel_auroc"] >= KOLEKTOR_PIXEL_FLOOR, metrics
    assert test["aupro"] >= KOLEKTOR_AUPRO_FLOOR, metrics
