"""`report.html`: a run to look at, in one self-contained page.

Every run directory gets one (`train_run` writes it after the test; `ganomaly-keras
report RUN_DIR` rebuilds it from a finished run). Every image and plot is inline, as a
PNG data URI drawn with matplotlib, and the page loads nothing from anywhere, so it
opens on an air-gapped inspection PC. It holds:

- the run at a glance: data, model, score and how it was chosen, threshold, selected
  step, validation and test figures (pixel AUROC and AUPRO where masks exist), and
  AUROC per defect type;
- the ROC and precision-recall curves (scikit-learn's displays) and the histogram of
  normal and anomalous test scores with the threshold;
- the training curves: losses and validation figures per validation;
- a gallery: the misjudged test images (false positives and false negatives), then
  the most and the least anomalous ones; each shows the image, its anomaly map over
  it with the ground-truth mask's contour, and the region predicted at the threshold,
  with score and decision, at the model's working resolution.

The per-image test scores come from `test_scores.csv` (written by the run's test); only
the gallery's images are scored again, for their maps.
"""

import base64
import html
import io
import json
import os

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay, roc_auc_score

from ganomaly_keras.training.test_scores import read_test_scores

REPORT = "report.html"
# Gallery: up to this many misjudged images, then the most and least anomalous.
MISJUDGED, EXTREMES = 8, 4
# Scores that are the maximum of their own anomaly map: the threshold applies to the map.
MAP_MAXIMA = (
    "residual_max", "feature_max", "standardized_max", "ssim_max", "msgms_max",
    "segmentation_max",
)


# ------------------------------------------------------------------ drawing


def _figure(width=5.0, height=3.6):
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _data_uri(figure):
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _img(figure, alt):
    return f'<img src="{_data_uri(figure)}" alt="{html.escape(alt)}">'


def _curves(scores, labels, threshold):
    """ROC, precision-recall and the score histogram, as three `<img>` tags."""
    roc = _figure()
    RocCurveDisplay.from_predictions(labels, scores, ax=roc.add_subplot(), name="test")
    pr = _figure()
    PrecisionRecallDisplay.from_predictions(labels, scores, ax=pr.add_subplot(), name="test")
    histogram = _figure()
    axes = histogram.add_subplot()
    edges = np.histogram_bin_edges(scores, bins=30)
    for label, name, colour in ((0, "normal", "tab:blue"), (1, "anomalous", "tab:red")):
        chosen = scores[labels == label]
        if chosen.size:
            axes.hist(chosen, bins=edges, alpha=0.55, color=colour, label=f"{name} ({chosen.size})")
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    axes.set(xlabel="anomaly score", ylabel="test images", title="Test scores")
    axes.legend()
    return [
        _img(roc, "ROC curve of the test split"),
        _img(pr, "precision-recall curve of the test split"),
        _img(histogram, "histogram of test scores with the threshold"),
    ]


def _training_curves(history, steps_per_row):
    """Losses and validation figures per validation, as `<img>` tags."""
    if not history:
        return []
    x = [(row["epoch"] + 1) * steps_per_row for row in history] if steps_per_row else [
        row["epoch"] + 1 for row in history
    ]
    xlabel = "training step" if steps_per_row else "epoch"
    losses = sorted(
        k for k in history[0]
        if (k.endswith("_loss") or k.startswith(("g_", "d_", "e_"))) and k != "d_reinit"
    )
    validation = sorted(k for k in history[0] if k in ("val_auroc", "val_aupr", "val_pixel_auroc", "val_aupro"))
    images = []
    for names, title in ((losses, "Training losses"), (validation, "Validation figures")):
        if not names:
            continue
        figure = _figure(5.5, 3.6)
        axes = figure.add_subplot()
        for name in names:
            axes.plot(x, [row.get(name) for row in history], marker="o", label=name)
        axes.set(xlabel=xlabel, title=title)
        if title == "Training losses":
            axes.set_yscale("symlog", linthresh=1e-3)
        axes.legend(fontsize=7)
        axes.grid(alpha=0.3)
        images.append(_img(figure, title))
    return images


def _gray(image):
    image = (np.asarray(image, np.float32) + 1.0) / 2.0
    return image[..., 0] if image.shape[-1] == 1 else image


def _card(image, anomaly_map, mask, region, row, scale):
    """One gallery image: image, map overlay with the mask's contour, predicted
    region; `row` a `test_scores.csv` row; `scale` the map value drawn brightest (the
    same for every card, so maps compare)."""
    height, width = anomaly_map.shape
    figure = _figure(7.5, 7.5 * height / (3 * width) + 0.6)
    panels = figure.subplots(1, 3)
    shown = _gray(image)
    cmap = "gray" if shown.ndim == 2 else None
    panels[0].imshow(shown, cmap=cmap, vmin=0, vmax=1)
    panels[0].set_title("image", fontsize=9)
    panels[1].imshow(shown, cmap=cmap, vmin=0, vmax=1)
    heat = colormaps["inferno"](np.clip(anomaly_map / scale, 0, 1))
    heat[..., 3] = 0.55
    panels[1].imshow(heat)
    if mask is not None and mask.any():
        panels[1].contour(mask, levels=[0.5], colors="lime", linewidths=1.0)
    panels[1].set_title("anomaly map, mask in green", fontsize=9)
    panels[2].imshow(shown, cmap=cmap, vmin=0, vmax=1)
    if region.any():
        panels[2].contour(region, levels=[0.5], colors="red", linewidths=1.0)
    panels[2].set_title("predicted region", fontsize=9)
    for axes in panels:
        axes.set_axis_off()
    decision = "anomaly" if row["is_anomaly"] else "normal"
    truth = "anomaly" if row["label"] else "normal"
    verdict = "correct" if row["is_anomaly"] == row["label"] else "misjudged"
    caption = (
        f"{html.escape(os.path.basename(row['path']))} ({html.escape(row['defect'])}): "
        f"score {row['anomaly_score']:.4g} ({row['normalized_score']:.2f} scaled), "
        f"decided {decision}, is {truth}: <b>{verdict}</b>"
    )
    return (
        f'<figure class="card {verdict}">{_img(figure, row["path"])}'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def gallery_rows(rows):
    """The gallery's rows: misjudged first (false positives and false negatives, the
    most confident mistakes first), then the most and least anomalous, no repeats."""
    order = sorted(range(len(rows)), key=lambda i: rows[i]["anomaly_score"])
    wrong = [i for i in order if rows[i]["is_anomaly"] != rows[i]["label"]]
    false_positives = [i for i in reversed(wrong) if rows[i]["label"] == 0]
    false_negatives = [i for i in wrong if rows[i]["label"] == 1]
    chosen = (false_positives + false_negatives)[:MISJUDGED]
    for i in list(reversed(order))[:EXTREMES] + order[:EXTREMES]:
        if i not in chosen:
            chosen.append(i)
    return chosen


# ------------------------------------------------------------------ the page


def _table(pairs):
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in pairs if v not in (None, "", {})
    )
    return f"<table>{cells}</table>"


def _figure_text(value):
    return f"{value:.3f}" if isinstance(value, float) else value


def _per_defect(rows):
    normal = [r["anomaly_score"] for r in rows if r["label"] == 0]
    found = []
    for defect in sorted({r["defect"] for r in rows if r["label"] == 1}):
        anomalous = [r["anomaly_score"] for r in rows if r["label"] == 1 and r["defect"] == defect]
        if normal and anomalous:
            labels = [0] * len(normal) + [1] * len(anomalous)
            auroc = roc_auc_score(labels, normal + anomalous)
            found.append((f"AUROC, {defect} ({len(anomalous)} images)", f"{auroc:.3f}"))
    return found


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { text-align: left; padding: 0.2rem 0.8rem 0.2rem 0; vertical-align: top; }
th { font-weight: 600; color: #555; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; }
.row > div { flex: 1 1 320px; }
img { max-width: 100%; height: auto; }
.gallery { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); }
figure.card { margin: 0; padding: 0.5rem; border: 2px solid #8c8; border-radius: 6px; }
figure.card.misjudged { border-color: #d66; }
figcaption { font-size: 0.85rem; }
"""


def build_report(run_dir, model=None, splits=None, metrics=None):
    """Write `<run_dir>/report.html` from a finished run's files.

    Args:
        run_dir: the run directory (with config.json, metrics.json, history.json,
            test_scores.csv and model.keras).
        model: the run's calibrated model (default: loaded from `model.keras`).
        splits: the run's splits (default: rebuilt from its data spec).
        metrics: the run's metrics (default: read from `metrics.json`).

    Returns:
        the report's path.
    """
    from ganomaly_keras.saving import load_model
    from ganomaly_keras.training.directory import load_config, load_run_spec

    config = load_config(run_dir)
    if metrics is None:
        with open(os.path.join(run_dir, "metrics.json")) as handle:
            metrics = json.load(handle)
    history_path = os.path.join(run_dir, "history.json")
    history = json.load(open(history_path)) if os.path.exists(history_path) else []
    model = model or load_model(os.path.join(run_dir, "model.keras"))
    splits = splits or load_run_spec(run_dir).splits()
    test = splits["test"]
    rows = read_test_scores(run_dir)
    scores = np.array([r["anomaly_score"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    threshold = model.calibration.threshold

    chosen = gallery_rows(rows)
    images = test.images[chosen]
    _, maps = model.predict_outputs(images)
    masks = None
    if test.masks is not None:
        from ganomaly_keras.metrics.pixel import resize_maps

        masks = resize_maps(test.masks[chosen].astype(np.float32), maps.shape[1:]) > 0.5
    region_threshold = _region_threshold(model, splits, threshold)
    scale = max(float(np.max(maps)), 1e-9)
    cards = [
        _card(images[k], maps[k], None if masks is None else masks[k],
              maps[k] > region_threshold, rows[i], scale)
        for k, i in enumerate(chosen)
    ]

    data = metrics.get("data", {})
    score = metrics.get("score", {})
    training = config.get("training", {})
    height, width = model.input_hw
    glance = _table([
        ("data", f"{data.get('source')}: {data.get('path') or data.get('name') or ''}"),
        ("protocol", data.get("protocol")),
        ("images (train / validation / test)", " / ".join(
            f"{s['images']} ({s['anomalous']} anomalous)" for s in data.get("splits", {}).values()
        )),
        ("model", f"{config.get('detector')}, {_options(config.get('model', {}))}"),
        ("input", f"{width}x{height} pixels (width x height)" + (
            f", scored over {model.image_size}-pixel tiles" if model.tiled else ""
        )),
        ("score", f"{score.get('name')}: {score.get('definition')}"),
        ("how the score was chosen", score.get("selected_by")),
        ("threshold", f"{threshold:.6g} (anomaly above it; fitted on validation)"),
        ("training", f"{metrics.get('training_steps')} steps, checkpoint of "
                     f"{'step' if training.get('steps') else 'epoch'} "
                     f"{_selected(metrics, training)}, chosen by {metrics.get('selected_by')}"),
    ])
    figures = _table(
        [(f"validation {k}", _figure_text(v)) for k, v in metrics.get("validation", {}).items()]
        + [(f"test {k}", _figure_text(v)) for k, v in metrics.get("test", {}).items()]
        + _per_defect(rows)
    )
    steps_per_row = training.get("validation_every") or (
        -(-training["steps"] // 5) if training.get("steps") else None
    )
    curves = "".join(f"<div>{img}</div>" for img in _curves(scores, labels, threshold))
    training_curves = "".join(f"<div>{img}</div>" for img in _training_curves(history, steps_per_row))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ganomaly-keras run: {html.escape(os.path.basename(os.path.abspath(run_dir)))}</title>
<style>{STYLE}</style></head><body>
<h1>Run {html.escape(os.path.basename(os.path.abspath(run_dir)))}</h1>
<section id="glance"><h2>At a glance</h2>{glance}</section>
<section id="figures"><h2>Validation and test figures</h2>
<p>Selection and the threshold used the validation split only; the test split was scored
once.</p>{figures}</section>
<section id="curves"><h2>ROC, precision-recall and scores</h2><div class="row">{curves}</div></section>
<section id="training"><h2>Training</h2><div class="row">{training_curves}</div></section>
<section id="gallery"><h2>Gallery</h2>
<p>Red borders: misjudged test images (false positives, then false negatives); then the
most and the least anomalous. Map: the score's anomaly map over the image; green: the
ground-truth mask; red: the region above the threshold.</p>
<div class="gallery">{''.join(cards)}</div></section>
</body></html>
"""
    path = os.path.join(run_dir, REPORT)
    with open(path + ".tmp", "w") as handle:
        handle.write(page)
    os.replace(path + ".tmp", path)
    return path


def _options(options):
    return ", ".join(f"{k} {v}" for k, v in sorted(options.items())) or "defaults"


def _selected(metrics, training):
    epoch = metrics.get("selected_epoch")
    every = training.get("validation_every") or (
        -(-training["steps"] // 5) if training.get("steps") else None
    )
    return (epoch + 1) * every if every and epoch is not None else (epoch or 0) + 1


def _region_threshold(model, splits, threshold):
    """The map value above which a pixel is in the predicted region: the threshold
    itself when the score is the maximum of its map, else the 99.5th percentile of
    the maps of the normal validation images."""
    if model.score in MAP_MAXIMA:
        return threshold
    validation = splits["validation"]
    normal = validation.images[validation.labels == 0][:64]
    if not len(normal):
        return np.inf
    _, maps = model.predict_outputs(normal)
    return float(np.quantile(maps, 0.995))
