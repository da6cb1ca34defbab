"""The end of a run: the test split scored once (figures, plots, per-image scores),
and the export of what the run selected. `ganomaly_keras.training.run` calls these
after selection and calibration, which use the validation split only."""

import os

import numpy as np

from ganomaly_keras.deploy.export import (
    export_model,
    supported_formats,
    unsupported_formats,
)
from ganomaly_keras.deploy.serving import calibrated_numpy
from ganomaly_keras.metrics.evaluation import evaluate_detector
from ganomaly_keras.training.plots import (
    roc_curve_image,
    save_png,
    score_histogram_image,
)
from ganomaly_keras.training.test_scores import write_test_scores

VALIDATION_FIGURES = ("auroc", "aupr", "f1", "pixel_auroc", "aupro")
TEST_FIGURES = ("auroc", "aupr", "precision", "recall", "f1", "threshold", "pixel_auroc", "aupro")


def _finite(value):
    return None if value is None or not np.isfinite(value) else float(value)


def report_test(run_dir, model, splits, labelled):
    """Score the test split once: figures, the ROC curve and the score histogram."""
    test, val = splits["test"], splits["validation"]
    result = evaluate_detector(model, test.images, test.labels, masks=test.masks)
    write_test_scores(run_dir, test, calibrated_numpy(result["scores"], model.calibration))
    save_png(roc_curve_image(result["scores"], test.labels), os.path.join(run_dir, "roc_curve.png"))
    save_png(
        score_histogram_image(result["scores"], test.labels, model.calibration.threshold),
        os.path.join(run_dir, "score_histogram.png"),
    )
    validation = (
        evaluate_detector(model, val.images, val.labels, masks=val.masks) if labelled else {}
    )
    return {
        "data": splits["summary"],
        "validation": {k: _finite(validation[k]) for k in VALIDATION_FIGURES if k in validation},
        "test": {k: _finite(result[k]) for k in TEST_FIGURES if k in result},
        "pixel_evaluation": (
            "anomaly maps upsampled bilinearly to the masks' "
            f"{result['mask_resolution'][1]}x{result['mask_resolution'][0]} pixels "
            "(width x height)"
            if "mask_resolution" in result else None
        ),
        "skipped_files": splits.get("skipped") or None,
    }


def export_run(run_dir, model, splits, export_formats, metrics, selected, score_choice):
    """Export what the detector supports into `run_dir/export`; record the rest."""
    unsupported = unsupported_formats(model, export_formats)
    if unsupported:
        metrics["export_skipped"] = unsupported
        for name, reason in unsupported.items():
            print(f"Not exported as {name}: {reason}")
    export_formats = supported_formats(model, export_formats)
    if not export_formats:
        return
    paths = export_model(
        model,
        os.path.join(run_dir, "export"),
        formats=export_formats,
        representative_data=splits["train_sample"],
        training_data=splits["summary"],
        validation={
            "auroc": metrics["validation"].get("auroc"),
            "selected_epoch": selected["epoch"],
            "score_selected_by": score_choice["selected_by"],
        },
    )
    metrics["export"] = {k: os.path.relpath(v, run_dir) for k, v in paths.items()}
