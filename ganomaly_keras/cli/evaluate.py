"""`ganomaly-keras evaluate`: a saved model's figures on its run's validation or test
split, and with `--scores` one row per image."""

import csv

from ganomaly_keras.cli import common


def run(args):
    from ganomaly_keras.metrics.evaluation import evaluate_detector

    path, model = common.load(args.model)
    spec, splits = common.splits_for(args, model, path)
    split = splits[args.split]
    skipped = splits.get("skipped", {}).get(args.split, [])
    common.report_skipped((item["path"], item["reason"]) for item in skipped)
    result = evaluate_detector(model, split.images, split.labels, masks=split.masks)
    result.pop("scores")
    if args.scores:
        _write_scores(args.scores, model, split)
    common.print_json({
        "model": path, "split": args.split, "data": spec.to_dict(), **result,
        "skipped_files": skipped,
    })


def _write_scores(path, model, split):
    """One CSV row per image of an evaluated split: path, the served outputs, label.
    Images of array sources have no file: their path is `<split>[index]`."""
    outputs = model.calibrated_outputs(split.images)
    names = split.paths or tuple(f"image[{i}]" for i in range(len(split.labels)))
    with common.open_output(path) as stream:
        writer = csv.DictWriter(stream, fieldnames=common.SCORE_COLUMNS + ("label",))
        writer.writeheader()
        for i, name in enumerate(names):
            row = common.score_row(name, {k: v[i] for k, v in outputs.items()})
            writer.writerow(dict(row, label=int(split.labels[i])))
