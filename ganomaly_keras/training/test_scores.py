"""`test_scores.csv`: a run's test split as served, one row per image.

The run's test writes it from the calibration head's outputs (`anomaly_score`,
`normalized_score`, `is_anomaly`), with each image's path, label and defect type;
`report.html` reads it, and a user opens it in a spreadsheet.
"""

import csv
import os

TEST_SCORES = "test_scores.csv"
SCORE_COLUMNS = ("path", "anomaly_score", "normalized_score", "is_anomaly", "label", "defect")


def write_test_scores(run_dir, test, outputs):
    """`test_scores.csv`: one row per test image, as served (`outputs` from the
    calibration head), with its label and defect type."""
    names = test.paths or tuple(f"image[{i}]" for i in range(len(test.labels)))
    defects = test.defects or tuple("anomaly" if y else "normal" for y in test.labels)
    path = os.path.join(run_dir, TEST_SCORES)
    with open(path + ".tmp", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(SCORE_COLUMNS)
        for i, name in enumerate(names):
            writer.writerow([
                name, float(outputs["anomaly_score"][i]), float(outputs["normalized_score"][i]),
                int(outputs["is_anomaly"][i]), int(test.labels[i]), defects[i],
            ])
    os.replace(path + ".tmp", path)
    return path


def read_test_scores(run_dir):
    """The rows of `test_scores.csv`: scores as floats, decisions and labels as ints."""
    with open(os.path.join(run_dir, TEST_SCORES), newline="") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        row["anomaly_score"] = float(row["anomaly_score"])
        row["normalized_score"] = float(row["normalized_score"])
        row["is_anomaly"], row["label"] = int(row["is_anomaly"]), int(row["label"])
    return rows
