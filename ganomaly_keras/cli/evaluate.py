"""`ganomaly-keras evaluate`: a saved model's figures on its run's validation or test
split, and with `--scores` one row per image. A folder's images stream in batches:
memory holds one batch of images, whatever the split's size."""

import csv

from ganomaly_keras.cli import common


def run(args):
    from ganomaly_keras.metrics.evaluation import evaluate_batches, evaluate_detector

    path, model = common.load(args.model)
    spec = common.spec_for(args, model, path)
    if spec.source == "folder":
        from ganomaly_keras.data.decoding import load_images

        part = spec.folder_split(args.split)
        files, skipped = part.files, part.skipped
        paths, labels = files.paths, files.labels
        size, step = spec.load_size, args.batch_size
        batches = (
            load_images(paths[i : i + step], size, part.channels)[0]
            for i in range(0, len(paths), step)
        )
        result = evaluate_batches(model, batches, labels, part.masks)
    else:
        splits = spec.splits()
        split = splits[args.split]
        skipped, paths, labels = [], None, split.labels
        result = evaluate_detector(model, split.images, labels, masks=split.masks)
    common.report_skipped((item["path"], item["reason"]) for item in skipped)
    scores = result.pop("scores")
    if args.scores:
        _write_scores(args.scores, model, scores, labels, paths)
    common.print_json({
        "model": path, "split": args.split, "data": spec.to_dict(), **result,
        "skipped_files": skipped,
    })


def _write_scores(path, model, scores, labels, paths):
    """One CSV row per image of an evaluated split: path, the served outputs (the
    calibration head applied to `scores`), label. Images of array sources have no
    file: their path is `image[index]`."""
    from ganomaly_keras.deploy.serving import calibrated_numpy

    if model.calibration is None:
        raise ValueError("--scores needs a calibrated model (train calibrates it).")
    outputs = calibrated_numpy(scores, model.calibration)
    names = paths or tuple(f"image[{i}]" for i in range(len(labels)))
    with common.open_output(path) as stream:
        writer = csv.DictWriter(stream, fieldnames=common.SCORE_COLUMNS + ("label",))
        writer.writeheader()
        for i, name in enumerate(names):
            row = common.score_row(name, {k: v[i] for k, v in outputs.items()})
            writer.writerow(dict(row, label=int(labels[i])))
