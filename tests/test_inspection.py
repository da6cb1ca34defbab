"""Inspection-grade detection: pixel metrics, map-based score terms, their selection on
validation only, step budgets, ground-truth masks and export parity of map scores."""

import json
import os

import numpy as np
import pytest
from PIL import Image
from settings import TINY

from ganomaly_keras import GANomaly, SkipGANomaly
from ganomaly_keras.data.augmentation import texture_augmentation
from ganomaly_keras.data.masks import load_masks
from ganomaly_keras.data.protocols import Split
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.runtimes import SavedModelRuntime, TFLiteRuntime
from ganomaly_keras.deploy.serving import to_uint8_images
from ganomaly_keras.metrics.pixel import aupro, pixel_auroc, pixel_metrics, pro_curve
from ganomaly_keras.scoring.selection import choose_score
from ganomaly_keras.scoring.terms import MAP_TERMS
from ganomaly_keras.training.run import train_run

# ------------------------------------------------------------------ pixel metrics


def test_pixel_auroc_of_a_perfect_and_an_inverted_map():
    masks = np.zeros((2, 6, 6), np.uint8)
    masks[0, 1:3, 1:3] = 1
    assert pixel_auroc(masks.astype(float), masks) == 1.0
    assert pixel_auroc(1.0 - masks, masks) == 0.0


def test_aupro_counts_each_region_once_whatever_its_size():
    """Two regions, a large one found perfectly and a small one missed: PRO is 0.5
    at FPR 0 (not the 36/37 that pixel counting would give) and rises linearly to 1
    at FPR 1, so up to FPR 0.3 the area is (0.5 + 0.65) / 2 * 0.3, normalised 0.575."""
    masks = np.zeros((2, 10, 10), np.uint8)
    masks[0, 0:6, 0:6] = 1  # 36 pixels, found
    masks[1, 8, 8] = 1  # 1 pixel, missed (scored like the background)
    maps = masks[0:1].astype(float).repeat(2, 0)
    maps[1] = 0.0
    maps[0] = masks[0]
    assert aupro(maps, masks) == pytest.approx(0.575)
    fpr, pro = pro_curve(maps, masks)
    assert pro[1] == pytest.approx(0.5) and fpr[1] == 0.0


def test_all_normal_images_count_as_false_positives_only():
    masks = np.zeros((3, 8, 8), np.uint8)
    masks[0, 2:4, 2:4] = 1
    maps = np.zeros((3, 8, 8))
    maps[0, 2:4, 2:4] = 1.0
    maps[2, 0, 0] = 2.0  # a normal image's hot pixel outranks the defect
    # One normal pixel of 188 is above the defect: PRO stays 0 until FPR 1/188, then
    # jumps to 1 (the whole region crosses at once), so the area lost is 1/188 wide.
    expected_fpr = 1 / (3 * 64 - 4)
    fpr, pro = pro_curve(maps, masks)
    assert fpr[1] == pytest.approx(expected_fpr) and pro[1] == 0.0 and pro[2] == 1.0
    assert aupro(maps, masks) == pytest.approx(1 - expected_fpr / 0.3, abs=1e-9)
    # Without any defect there is nothing to localise.
    assert pixel_metrics(maps[1:], masks[1:]) == {"pixel_auroc": None, "aupro": None}


def test_random_maps_give_the_chance_levels():
    rng = np.random.default_rng(0)
    maps = rng.random((40, 32, 32))
    masks = (rng.random((40, 32, 32)) < 0.05).astype(np.uint8)
    assert pixel_auroc(maps, masks) == pytest.approx(0.5, abs=0.02)
    assert aupro(maps, masks) == pytest.approx(0.15, abs=0.02)  # max_fpr / 2


def test_pixel_metrics_refuse_maps_and_masks_of_different_shapes():
    with pytest.raises(ValueError, match="resize_maps"):
        pixel_auroc(np.zeros((2, 8, 8)), np.zeros((2, 16, 16)))
    with pytest.raises(ValueError, match="binary"):
        aupro(np.zeros((1, 4, 4)), np.full((1, 4, 4), 255))


# ----------------------------------------------------------------------- masks


def _write_array(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def make_inspection_folder(root, size=48, seed=0):
    """A tiny MVTec-layout folder: noisy grey texture, defects are bright squares."""
    rng = np.random.default_rng(seed)

    def texture():
        return (120 + 20 * rng.standard_normal((size, size, 3))).clip(0, 255).astype(np.uint8)

    for i in range(16):
        _write_array(f"{root}/train/good/{i:03d}.png", texture())
    for i in range(5):
        _write_array(f"{root}/test/good/{i:03d}.png", texture())
    for i in range(5):
        image, mask = texture(), np.zeros((size, size), np.uint8)
        y, x = rng.integers(4, size - 12, 2)
        image[y : y + 8, x : x + 8] = 250
        mask[y : y + 8, x : x + 8] = 255
        _write_array(f"{root}/test/bright/{i:03d}.png", image)
        _write_array(f"{root}/ground_truth/bright/{i:03d}_mask.png", mask)
    return root


def test_masks_load_at_the_evaluation_size_with_normal_images_empty(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    paths = [f"{root}/test/good/000.png", f"{root}/test/bright/000.png"]
    masks = load_masks(paths, [None, f"{root}/ground_truth/bright/000_mask.png"], [0, 1], 24)
    assert masks.shape == (2, 24, 24) and masks.dtype == np.uint8
    assert masks[0].sum() == 0 and masks[1].sum() == 16  # 8x8 square at half size


def test_a_mask_of_another_size_than_its_image_is_refused(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    _write_array(f"{root}/ground_truth/bright/001_mask.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(ValueError, match="001_mask.png' is 30x20 but its image .* 48x48"):
        DataSpec(source="folder", path=root, image_size=16).splits()


def test_a_mask_that_matches_no_image_is_refused(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    _write_array(f"{root}/ground_truth/bright/999_mask.png", np.zeros((48, 48), np.uint8))
    with pytest.raises(ValueError, match="999_mask.png' matches no test image.*Rename or remove"):
        DataSpec(source="folder", path=root, image_size=16).splits()


def test_folder_channels_follow_the_images(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    assert DataSpec(source="folder", path=root, image_size=16).splits()["channels"] == 3


# ----------------------------------------------------------------- score terms


@pytest.mark.parametrize("cls", [GANomaly, SkipGANomaly])
def test_every_score_name_scores_as_its_term(cls, rng):
    x = rng.uniform(-1, 1, (6, 16, 16, 1)).astype("float32")
    model = cls(image_size=16, channels=1, seed=0, **TINY)
    model.fit_normal_statistics(x[:3])
    terms = model.predict_terms(x)
    assert set(terms) == set(model.paper_scores) | set(MAP_TERMS)
    for name in model.available_scores:
        other = model.with_score(name)
        np.testing.assert_allclose(other.predict(x, verbose=0), terms[name], rtol=1e-5, atol=1e-6)
        assert other.predict_maps(x).shape == (6, 16, 16)


def test_a_map_score_sees_a_small_defect_that_a_mean_dilutes():
    """The maximum of the smoothed residual ranks a 2x2 defect above mild noise spread
    over the whole image, which the mean residual cannot."""
    from ganomaly_keras.scoring import terms as scoring_terms

    x = np.zeros((2, 16, 16, 1), "float32")
    x_hat = np.zeros_like(x)
    x_hat[0] += 0.1  # normal: small error everywhere (mean 0.1)
    x_hat[1, 4:6, 4:6] = 1.0  # defect: large error on 4 pixels (mean 0.016)
    terms, _ = scoring_terms.compute_terms({"paper": np.zeros(2, "float32")}, x, x_hat, None,
                                     None, 3, ("residual_max",))
    assert float(terms["residual_max"][1]) > float(terms["residual_max"][0])
    assert np.abs(x - x_hat)[1].mean() < np.abs(x - x_hat)[0].mean()


def test_unknown_score_and_bad_smoothing_are_refused():
    with pytest.raises(ValueError, match="score must be one of .*residual_max"):
        GANomaly(image_size=16, channels=1, score="max_residual", **TINY)
    with pytest.raises(ValueError, match="map_smoothing must be a positive integer"):
        GANomaly(image_size=16, channels=1, map_smoothing=0, **TINY)


def test_standardised_scores_need_their_statistics_before_calibration(rng):
    model = GANomaly(image_size=16, channels=1, score="standardized_max", **TINY)
    x = rng.uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    with pytest.raises(ValueError, match="fit_normal_statistics"):
        model.calibrate(x)
    model.fit_normal_statistics(x)
    fitted = model.calibrate(x)
    standardized = model.predict(x, verbose=0)
    assert model.predict_terms(x, ("residual_max",))["residual_max"].tolist() != standardized.tolist()
    assert fitted.threshold == float(np.float32(np.quantile(standardized, 0.99)))
    assert model.calibration == fitted


def test_choose_score_takes_the_best_validation_auroc_with_a_fixed_tie_order():
    aurocs = {"latent_mse": 0.9, "residual_max": 0.8, "feature_max": 0.95}
    assert choose_score(aurocs, ("latent_mse",)) == "feature_max"
    tied = {"latent_mse": 1.0, "residual_max": 1.0, "feature_max": 1.0}
    assert choose_score(tied, ("latent_mse",)) == "residual_max"


def test_texture_augmentation_keeps_images_in_range(rng):
    x = rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
    out = np.asarray(texture_augmentation(seed=0)(x, training=True))
    assert out.shape == x.shape and out.min() >= -1.0 - 1e-6 and out.max() <= 1.0 + 1e-6
    assert not np.allclose(out, x)


# ------------------------------------------------------------------------ runs


def test_a_step_budget_makes_exactly_that_many_updates(tmp_path):
    spec = DataSpec(image_size=16)
    metrics = train_run(str(tmp_path / "run"), spec, TINY, steps=7, validation_every=3,
                        export_formats=(), verbose=0)
    assert metrics["training_steps"] == 7
    with open(tmp_path / "run" / "history.json") as handle:
        assert [row["epoch"] for row in json.load(handle)] == [0, 1, 2]


def test_steps_per_execution_keeps_the_budget_and_the_validation_cadence(tmp_path):
    spec = DataSpec(image_size=16)
    metrics = train_run(str(tmp_path / "run"), spec, TINY, steps=8, validation_every=4,
                        steps_per_execution=2, export_formats=(), verbose=0)
    assert metrics["training_steps"] == 8
    with open(tmp_path / "run" / "history.json") as handle:
        assert [row["epoch"] for row in json.load(handle)] == [0, 1]
    with open(tmp_path / "run" / "config.json") as handle:
        assert json.load(handle)["training"]["steps_per_execution"] == 2
    # Epochs of finite data end with the data, whatever the group size.
    epochs = train_run(str(tmp_path / "epochs"), spec, TINY, epochs=1, batch_size=64,
                       steps_per_execution=4, export_formats=(), verbose=0)
    batches = -(-epochs["data"]["splits"]["train"]["images"] // 64)
    assert batches % 4 != 0  # the last group is cut short by the end of the data
    assert epochs["training_steps"] == batches


@pytest.mark.parametrize("steps,every", [(7, None), (8, 3)])
def test_a_step_budget_that_splits_a_group_of_steps_is_refused(tmp_path, steps, every):
    with pytest.raises(ValueError, match="multiple of steps_per_execution"):
        train_run(str(tmp_path / "run"), DataSpec(image_size=16), TINY, steps=steps,
                  validation_every=every, steps_per_execution=2)
    assert not (tmp_path / "run").exists()


def test_steps_and_epochs_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="epochs or steps, not both"):
        train_run(str(tmp_path / "run"), DataSpec(image_size=16), TINY, epochs=2, steps=4)
    assert not (tmp_path / "run").exists()


def test_auto_score_is_chosen_without_the_test_labels(tmp_path, monkeypatch):
    """The same run with the test labels inverted chooses the same score from the same
    validation figures; only the test AUROC changes (to 1 - AUROC)."""
    spec = DataSpec(image_size=16)
    options = dict(TINY, score="auto")
    plain = train_run(str(tmp_path / "a"), spec, options, steps=6, export_formats=(), verbose=0)
    original = DataSpec.splits

    def inverted_test_labels(self):
        splits = original(self)
        test = splits["test"]
        splits["test"] = Split(test.images, 1 - test.labels, test.masks)
        return splits

    monkeypatch.setattr(DataSpec, "splits", inverted_test_labels)
    inverted = train_run(str(tmp_path / "b"), spec, options, steps=6, export_formats=(),
                         verbose=0)
    assert plain["score"]["selected_by"].startswith("validation")
    assert inverted["score"]["name"] == plain["score"]["name"]
    for term, value in plain["score"]["validation_auroc_by_term"].items():
        assert inverted["score"]["validation_auroc_by_term"][term] == pytest.approx(value, abs=1e-6)
    assert inverted["test"]["auroc"] == pytest.approx(1 - plain["test"]["auroc"], abs=1e-6)


# ---------------------------------------------------------------------- export


# residual_topk exercises TOPK_V2; the tiled export below, with standardized_sum, the
# tiling, the feature maps (bilinear resize), residual_max and the stored statistics.
@pytest.mark.parametrize("score", ["residual_topk"])
def test_export_of_a_map_score_matches_keras(score, rng, tmp_path):
    x = rng.uniform(-1, 1, (12, 16, 16, 1)).astype("float32")
    model = GANomaly(image_size=16, channels=1, score=score, seed=0, **TINY)
    model.fit_normal_statistics(x[:6])
    model.calibrate(x[:6])
    paths = export_model(model, tmp_path / "export", formats=("saved_model", "tflite_float32"))
    with open(paths["metadata"]) as handle:
        assert json.load(handle)["score"]["name"] == score
    pixels = to_uint8_images(x)
    expected = model.predict(pixels.astype("float32") / 127.5 - 1, verbose=0)
    maps = model.predict_maps(pixels.astype("float32") / 127.5 - 1)
    for runtime in (SavedModelRuntime(paths["saved_model"]), TFLiteRuntime(paths["tflite_float32"])):
        outputs = runtime.run(pixels)
        np.testing.assert_allclose(outputs["anomaly_score"], expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(outputs["anomaly_map"], maps, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- tiling


def test_tiles_reassemble_into_the_image():
    from ganomaly_keras.scoring import tiling

    x = np.random.default_rng(0).uniform(-1, 1, (2, 48, 48, 3)).astype("float32")
    tiles = tiling.extract_tiles(x, 48, 16)
    assert tiles.shape == (25 * 2, 16, 16, 3)  # offsets 0, 8, ..., 32 in each direction
    np.testing.assert_allclose(np.asarray(tiling.assemble(tiles, 48, 16)), x, atol=1e-6)


def test_tiled_scoring_equals_the_single_pass_model_on_each_tile(rng):
    """Each tile is scored as the untiled model scores that crop; the map is the
    average of the tiles' maps where they overlap, and the paper score the worst tile."""
    x = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    tiled = GANomaly(image_size=16, channels=1, working_size=32, seed=0, **TINY)
    single = GANomaly(image_size=16, channels=1, seed=0, **TINY)
    # The same networks; only the stored map statistics differ in shape (unused here).
    for target, source in zip(single.weights, tiled.weights):
        if target.shape == source.shape:
            target.assign(source)
    # A tile that covers the whole image is the single pass itself.
    crops = [x[:, y : y + 16, c : c + 16] for y in (0, 8, 16) for c in (0, 8, 16)]
    expected_map = np.zeros((2, 32, 32))
    coverage = np.zeros((32, 32))
    for (y, c), crop in zip([(y, c) for y in (0, 8, 16) for c in (0, 8, 16)], crops):
        expected_map[:, y : y + 16, c : c + 16] += single.predict_maps(crop)
        coverage[y : y + 16, c : c + 16] += 1
    np.testing.assert_allclose(tiled.predict_maps(x), expected_map / coverage, rtol=1e-5, atol=1e-6)
    worst_tile = np.max([single.predict(crop, verbose=0) for crop in crops], axis=0)
    np.testing.assert_allclose(tiled.predict(x, verbose=0), worst_tile, rtol=1e-5, atol=1e-7)
    assert tiled.reconstruct(x).shape == x.shape


def test_bad_working_sizes_name_the_fix():
    with pytest.raises(ValueError, match="patch .*image_size 32.* larger than the working size 16"):
        GANomaly(image_size=32, channels=1, working_size=16, **TINY)
    # Tiles of 16 move by 8: 40 and 48 fit, 44 does not.
    with pytest.raises(ValueError, match="working_size 44 does not fit .* use 40 or 48"):
        GANomaly(image_size=16, channels=1, working_size=44, **TINY)
    with pytest.raises(ValueError, match="use 40 or 48"):
        DataSpec(image_size=16, working_size=44)


def test_a_tiled_folder_run_trains_on_patches_and_reports_pixel_metrics(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    metrics = train_run(
        str(tmp_path / "run"),
        DataSpec(source="folder", path=root, image_size=16, working_size=32),
        dict(TINY, score="auto"), steps=3, batch_size=8, export_formats=(), verbose=0,
    )
    assert metrics["training_steps"] == 3
    assert metrics["score"]["name"] in GANomaly(image_size=16, channels=3, **TINY).available_scores
    for split in ("validation", "test"):
        assert metrics[split]["pixel_auroc"] is not None
        assert metrics[split]["aupro"] is not None
    assert "48x48" in metrics["pixel_evaluation"]
    model = __import__("keras").saving.load_model(str(tmp_path / "run" / "model.keras"))
    assert (model.image_size, model.input_size) == (16, 32)


def test_export_of_a_tiled_model_matches_keras(rng, tmp_path):
    x = rng.uniform(-1, 1, (6, 32, 32, 1)).astype("float32")
    model = GANomaly(image_size=16, channels=1, working_size=32, score="standardized_sum",
                     seed=0, **TINY)
    model.fit_normal_statistics(x[:3])
    model.calibrate(x)
    paths = export_model(model, tmp_path / "export", formats=("tflite_float32",))
    pixels = to_uint8_images(x)
    expected = model.predict(pixels.astype("float32") / 127.5 - 1, verbose=0)
    maps = model.predict_maps(pixels.astype("float32") / 127.5 - 1)
    outputs = TFLiteRuntime(paths["tflite_float32"]).run(pixels)
    np.testing.assert_allclose(outputs["anomaly_score"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["anomaly_map"], maps, rtol=1e-4, atol=1e-5)
    assert outputs["anomaly_map"].shape == (6, 32, 32)


def test_checkpoint_ties_go_to_the_better_tie_breaker(tmp_path):
    from ganomaly_keras.training.callbacks import BestModelCheckpoint

    model = GANomaly(image_size=16, channels=1, **TINY)
    checkpoint = BestModelCheckpoint(str(tmp_path / "best.keras"), tie_breaker="val_aupro")
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    for epoch, (auroc, aupro_value) in enumerate([(1.0, 0.5), (1.0, 0.8), (1.0, 0.7), (0.9, 0.95)]):
        checkpoint.on_epoch_end(epoch, {"val_auroc": auroc, "val_aupro": aupro_value})
    assert checkpoint.best_epoch == 1
    without = BestModelCheckpoint(str(tmp_path / "other.keras"))
    without.set_model(model)
    without.on_train_begin()
    for epoch in range(3):
        without.on_epoch_end(epoch, {"val_auroc": 1.0})
    assert without.best_epoch == 0  # no tie-breaker: the first best stays


def test_int8_calibration_images_include_copies_with_a_synthetic_defect():
    from ganomaly_keras.deploy.export import (
        _representative_images,
        with_synthetic_defects,
    )

    normal = np.full((10, 32, 32, 3), 120, np.uint8)
    copies = with_synthetic_defects(normal)
    assert copies.shape == normal.shape and copies.dtype == np.uint8
    changed = (copies != normal).any(axis=-1)
    for mask in changed:  # one rectangle per image, at least 3x3 at 32 px
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert mask.sum() == len(rows) * len(cols) >= 9
    representative = _representative_images(normal, (32, 32, 3))
    assert len(representative) == 20 and (representative[:10] == normal).all()
