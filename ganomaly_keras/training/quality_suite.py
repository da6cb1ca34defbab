"""Detection quality on a suite of inspection folders: one run per folder, one table.

`run_quality_benchmark` (behind `ganomaly-keras benchmark quality --folder-suite DIR`)
trains the chosen detector on every MVTec-layout folder under DIR (each with
`train/good`, `test/...` and, for pixel metrics, `ground_truth/...`) with one budget,
and reports per folder the test image AUROC, pixel AUROC and AUPRO, the score that
was chosen on validation, the training steps and the wall time, with their means.

Everything a run decides (best checkpoint, score term, threshold) uses the validation
split only; the test split of each folder is scored once. For the record (what helps
on which data), the report also gives every score term's test AUROC from the same
trained model; nothing is selected on those. Results go to
`<out>/results.json` after each folder and to `<out>/results.md` at the end. A rerun
with the same budget skips the folders already measured and resumes a folder whose
training was interrupted (its run directory resumes, see `ganomaly_keras.training.run`).
"""

import os
import time

import numpy as np

from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.results import ResultsStore
from ganomaly_keras.results import markdown_table as results_table
from ganomaly_keras.saving import load_model
from ganomaly_keras.training.run import INSPECTION_DEFAULTS, RunError, train_run

METRICS = ("auroc", "pixel_auroc", "aupro")


def suite_folders(root):
    """The MVTec-layout dataset folders directly under `root`, sorted."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"folder suite {root!r} does not exist.")
    folders = sorted(
        name for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name, "train"))
    )
    if not folders:
        raise ValueError(
            f"{root!r} holds no dataset folders (folders with a train/ subfolder in "
            "the MVTec AD layout). Point --folder-suite at their parent folder."
        )
    return folders


def _budget(detector, model_options, steps, image_size, working_size, batch_size, augment, seed):
    return {
        "detector": detector,
        "model": dict(sorted(model_options.items())),
        "steps": steps,
        "image_size": image_size,
        "working_size": working_size,
        "batch_size": batch_size,
        "augment": bool(augment),
        "seed": seed,
    }


def run_quality_benchmark(
    suite,
    out_dir,
    detector="ganomaly",
    model_options=None,
    steps=INSPECTION_DEFAULTS["steps"],
    image_size=INSPECTION_DEFAULTS["image_size"],
    batch_size=INSPECTION_DEFAULTS["batch_size"],
    augment=False,
    seed=0,
    folders=None,
    verbose=0,
    working_size=INSPECTION_DEFAULTS["working_size"],
):
    """Train and test `detector` on every folder of `suite`; returns the report.

    Args:
        suite: a folder of MVTec-layout dataset folders (e.g. PIPED's 12 types).
        out_dir: where run directories, `results.json` and `results.md` go.
        detector: a name of `ganomaly_keras.training.run.DETECTORS`.
        model_options: constructor options (default: `score="auto"`).
        steps, image_size, batch_size, augment: the one budget for every folder.
        seed: the splits' and the weights' seed.
        folders: optional subset of folder names.
        verbose: Keras' progress bar setting for each run.
        working_size: the size images are scored at over tiles of `image_size`
            ("auto": each folder's own, `DataSpec`), or None for whole images at
            `image_size`.

    Returns:
        dict: "budget", "results" (folder -> figures), "mean" (per metric).
    """
    model_options = dict({"score": INSPECTION_DEFAULTS["score"]}, **(model_options or {}))
    names = suite_folders(suite)
    if folders:
        unknown = sorted(set(folders) - set(names))
        if unknown:
            raise ValueError(f"no folders {unknown} in {suite!r}; it has {names}.")
        names = [n for n in names if n in folders]
    budget = _budget(
        detector, model_options, steps, image_size, working_size, batch_size, augment, seed
    )
    store = ResultsStore(os.path.join(out_dir, "results.json"), budget)
    for name in names:
        if name in store:
            print(f"{name}: measured already, skipped")
            continue
        row = store.put(name, _run_folder(suite, name, out_dir, budget, model_options, verbose))
        print(f"{name}: " + ", ".join(f"{k} {row[k]:.3f}" for k in METRICS if row[k] is not None)
              + f", score {row['score']}, {row['seconds']:.0f} s")
    results = {name: store.get(name) for name in names}
    report = {"budget": store.identity, "results": results}
    report["mean"] = {
        k: float(np.mean([r[k] for r in results.values()]))
        if all(r[k] is not None for r in results.values()) else None
        for k in METRICS
    }
    report["total_seconds"] = round(sum(r["seconds"] for r in results.values()), 1)
    with open(os.path.join(out_dir, "results.md"), "w") as handle:
        handle.write(markdown_table(report))
        handle.write("\nTest AUROC of every score term of the same models (for the record; "
                     "each run chose its score on validation):\n\n" + term_table(report))
    return report


def _run_folder(suite, name, out_dir, budget, model_options, verbose):
    """Train and test on one folder of the suite; its row of the report."""
    spec = DataSpec(source="folder", path=os.path.join(suite, name),
                    image_size=budget["image_size"], working_size=budget["working_size"],
                    seed=budget["seed"])
    start = time.perf_counter()
    run_dir = os.path.join(out_dir, "runs", name)
    arguments = dict(
        detector=budget["detector"], steps=budget["steps"], batch_size=budget["batch_size"],
        augment=budget["augment"], export_formats=(), verbose=verbose,
    )
    try:  # resumes an interrupted run of the same budget
        metrics = train_run(run_dir, spec, model_options, **arguments)
    except RunError:  # a finished run or another budget's: this budget starts over
        metrics = train_run(run_dir, spec, model_options, overwrite=True, **arguments)
    test = metrics["test"]
    return {
        **{k: test.get(k) for k in METRICS},
        "score": metrics["score"]["name"],
        "steps": metrics["training_steps"],
        "seconds": round(time.perf_counter() - start, 1),
        "test_images": metrics["data"]["splits"]["test"]["images"],
        "test_auroc_by_term": test_auroc_by_term(run_dir),
    }


def test_auroc_by_term(run_dir):
    """Every score term's test AUROC for a finished run's model (for the record:
    the run's choice was made on validation)."""
    from ganomaly_keras.metrics.evaluation import ranking_metrics
    from ganomaly_keras.training.run import load_run_spec

    model = load_model(os.path.join(run_dir, "model.keras"))
    test = load_run_spec(run_dir).splits()["test"]
    terms = model.predict_terms(test.images)
    return {name: ranking_metrics(values, test.labels)["auroc"] for name, values in terms.items()}


def term_table(report):
    """Test AUROC of every score term per folder, with means (for the record)."""
    rows = [r["test_auroc_by_term"] for r in report["results"].values()]
    if not rows:
        return ""
    terms = list(rows[0])
    lines = [
        [name] + [f"{result['test_auroc_by_term'][t]:.3f}" for t in terms]
        for name, result in report["results"].items()
    ]
    lines.append(["**mean**"] + [f"{np.mean([r[t] for r in rows]):.3f}" for t in terms])
    return results_table(["folder"] + terms, lines)


def markdown_table(report):
    """The report as a Markdown table with a mean row and the budget."""
    def cell(value):
        return "n/a" if value is None else f"{value:.3f}"

    budget = report["budget"]
    tiles = (
        f", scored over tiles of {budget['working_size']} images"
        if budget.get("working_size") else ""
    )
    rows = [
        [name, cell(row["auroc"]), cell(row["pixel_auroc"]), cell(row["aupro"]), row["score"],
         f"{row['seconds']:.0f}"]
        for name, row in report["results"].items()
    ]
    mean = report.get("mean", {})
    rows.append(["**mean**", cell(mean.get("auroc")), cell(mean.get("pixel_auroc")),
                 cell(mean.get("aupro")), "", f"{report.get('total_seconds', 0):.0f}"])
    title = (
        f"{budget['detector']}, {budget['steps']} steps of batch {budget['batch_size']} at "
        f"{budget['image_size']} px{tiles}, options {budget['model']}, augment "
        f"{budget['augment']}, seed {budget['seed']}"
    )
    header = ["folder", "image AUROC", "pixel AUROC", "AUPRO",
              "score (chosen on validation)", "seconds"]
    return title + "\n\n" + results_table(header, rows)
