"""`ganomaly-keras predict`: score image files with a saved model, in batches."""

import csv
import sys

from ganomaly_keras.cli import common


def run(args):
    """Score image files (a file, a folder, or a folder of folders) in batches, read
    by the one image path the model was trained and calibrated through."""
    from ganomaly_keras.data.images import image_files
    from ganomaly_keras.deploy.serving import score_files

    path, model = common.load(args.model)
    if model.calibration is None:
        raise ValueError(f"{path} has no threshold; calibrate it (train does) first.")
    files = image_files(args.images)
    scored = flagged = 0
    skipped = []
    stream = common.open_output(args.out)
    try:
        writer = csv.DictWriter(stream, fieldnames=common.SCORE_COLUMNS + ("skipped",))
        writer.writeheader()
        on_error = "skip" if args.skip_unreadable else "raise"
        for file, outputs, reason in score_files(model, files, args.batch_size, on_error):
            if outputs is None:
                skipped.append((file, reason))
                writer.writerow({"path": file, "skipped": reason})
                continue
            row = common.score_row(file, outputs)
            scored += 1
            flagged += row["is_anomaly"]
            writer.writerow(row)
    finally:
        if args.out:
            stream.close()
    common.report_skipped(skipped)
    print(f"scored {scored} images, {flagged} anomalous, {len(skipped)} skipped",
          file=sys.stderr)
