"""
Title: What each part of an inspection run adds, on KolektorSDD and PIPED
Description: The quality suite (`ganomaly_keras.training.quality_suite`) run once per
training configuration, with image AUROC, pixel AUROC, AUPRO and wall time per folder.

Configurations (GANomaly; every other setting is the same budget):

- `map_terms`: the paper's training; `score=auto` chooses among every score term on
  validation. The same model's test AUROC of the paper score (`latent_mse`) and of the
  structure-aware terms (`ssim_max`, `msgms_max`) are read from it too: the `paper`,
  `ssim` and `msgms` rows (image AUROC only: the paper score has no map, and those
  rows were not chosen on validation).
- `ssim_loss`: an SSIM term in the generator's loss (`ssim_weight=1`).
- `restoration`: the generator restores clean images from copies with synthetic
  defects (`synthetic_defects=True`, `ssim_weight=1`).
- `head`: restoration plus the segmentation head on (x, G(x)) trained on the
  synthetic masks (`segmentation_head=True`, `ssim_weight=1`): `train --folder`'s
  default.

Each configuration's runs and `results.json` live in `OUT/CONFIG/`, written after each
folder; a rerun resumes. The table is printed and written to `OUT/ablation.md`.
Selection (checkpoint, score term, threshold) sees validation only; the last table says
for how many folders validation's choice of term was also the best term on test.

Usage:
    python -m benchmarks.ablation --suite ../shared/data --folders kolektorsdd \
        --out runs/ablation_ksdd
    python -m benchmarks.ablation --suite ../shared/data/piped --configurations head \
        --out runs/ablation_piped
"""

import argparse
import os

import numpy as np

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

from ganomaly_keras.results import markdown_table  # noqa: E402
from ganomaly_keras.training.defaults import (  # noqa: E402
    INSPECTION_DEFAULTS,
    INSPECTION_MODEL_OPTIONS,
)
from ganomaly_keras.training.quality_suite import run_quality_benchmark  # noqa: E402

PLAIN = {key: value for key, value in INSPECTION_MODEL_OPTIONS.items()
         if key not in ("synthetic_defects", "segmentation_head", "ssim_weight")}
CONFIGURATIONS = {
    "map_terms": dict(PLAIN),
    "ssim_loss": dict(PLAIN, ssim_weight=1.0),
    "restoration": dict(PLAIN, synthetic_defects=True, ssim_weight=1.0),
    "head": dict(INSPECTION_MODEL_OPTIONS),
}
# Rows read from the map_terms runs' per-term test AUROC (not chosen on validation).
TERM_ROWS = {"paper": "latent_mse", "ssim": "ssim_max", "msgms": "msgms_max"}


def run_ablation(suite, out_dir, configurations, folders=None, steps=None, batch_size=None,
                 width=None):
    """Run the quality suite for each configuration; returns {config: report}."""
    reports = {}
    for name in configurations:
        options = dict(CONFIGURATIONS[name])
        if width is not None:
            options["width"] = width
        print(f"== {name}: {options}", flush=True)
        reports[name] = run_quality_benchmark(
            suite, os.path.join(out_dir, name), model_options=options, folders=folders,
            steps=steps or INSPECTION_DEFAULTS["steps"],
            batch_size=batch_size or INSPECTION_DEFAULTS["batch_size"],
        )
    return reports


def _mean(values):
    values = [v for v in values if v is not None]
    return f"{np.mean(values):.3f}" if values else "–"


def ablation_table(reports):
    """Markdown: one row per configuration (means over the folders), then the
    per-folder rows, then how often validation's choice was test's best term."""
    header = ["configuration", "image AUROC", "pixel AUROC", "AUPRO", "score chosen",
              "minutes"]
    rows = []
    for name, report in reports.items():
        results = report["results"].values()
        chosen = sorted({r["score"] for r in results})
        rows.append([name] + [_mean([r[k] for r in results])
                              for k in ("auroc", "pixel_auroc", "aupro")]
                    + [", ".join(chosen), f"{sum(r['seconds'] for r in results) / 60:.1f}"])
        if name == "map_terms":
            for row_name, term in TERM_ROWS.items():
                aurocs = [r["test_auroc_by_term"].get(term) for r in results]
                rows.append([f"{row_name} ({term}, same model)", _mean(aurocs), "–", "–",
                             "not chosen", ""])
    text = markdown_table(header, rows)
    folders = sorted({f for report in reports.values() for f in report["results"]})
    if len(folders) > 1:
        per_folder = [
            [f"{name}: {folder}"] + [
                "–" if r[k] is None else f"{r[k]:.3f}" for k in ("auroc", "pixel_auroc", "aupro")
            ] + [r["score"], f"{r['seconds'] / 60:.1f}"]
            for name, report in reports.items()
            for folder, r in report["results"].items()
        ]
        text += "\n" + markdown_table(["configuration: folder"] + header[1:], per_folder)
    agreement = []
    for name, report in reports.items():
        results = list(report["results"].values())
        hits = 0
        for r in results:
            by_term = r["test_auroc_by_term"]
            hits += by_term[r["score"]] >= max(by_term.values()) - 1e-9
        agreement.append([name, f"{hits} of {len(results)}"])
    text += "\n" + markdown_table(
        ["configuration", "validation's choice is test's best term"], agreement
    )
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--suite", required=True, help="a folder of MVTec-layout folders")
    parser.add_argument("--folders", nargs="+", help="only these folders of the suite")
    parser.add_argument("--configurations", nargs="+", choices=list(CONFIGURATIONS),
                        default=list(CONFIGURATIONS))
    parser.add_argument("--steps", type=int, help="training steps per run (train --folder's)")
    parser.add_argument("--batch-size", type=int, help="batch (train --folder's)")
    parser.add_argument("--width", type=int, help="the networks' width (train --folder's)")
    parser.add_argument("--out", default="runs/ablation")
    args = parser.parse_args(argv)
    reports = run_ablation(args.suite, args.out, args.configurations, args.folders,
                           args.steps, args.batch_size, args.width)
    text = ablation_table(reports)
    with open(os.path.join(args.out, "ablation.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
