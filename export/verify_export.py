"""Check an export folder: every artefact against the Keras model on labelled images.

Runs the `.keras` model, the SavedModel and every `.tflite` file on the same uint8
images and prints, per artefact: max absolute and relative score difference from
Keras, score correlation, decision agreement, AUROC, latency per image (batch 1, one
thread), file size, and how many of its decisions contradict its own score; then the
project's export targets with PASS/FAIL.

The labelled images are the test split of the protocol the model was trained on: the
run's own data spec when `ganomaly-keras train` made the export (metadata.json records
it), else scikit-learn's digits (abnormal digit and seed from metadata.json or the
options), an `.npz` in Keras' layout, or a folder.

Usage:
    python export/verify_export.py runs/digits/export
    python export/verify_export.py runs/mnist/export --npz mnist.npz --abnormal-class 1
    python export/verify_export.py runs/folder/export --folder path/to/mvtec/bottle
"""

import argparse
import json
import sys

from ganomaly_keras.backend import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import numpy as np  # noqa: E402

from ganomaly_keras.deploy.metadata import read_metadata  # noqa: E402
from ganomaly_keras.deploy.runtimes import compare_runtimes, load_runtimes, markdown_table  # noqa: E402
from ganomaly_keras.deploy.serving import to_uint8_images  # noqa: E402


def check_targets(rows):
    """The project's export targets, each with its measured value and PASS/FAIL.

    Returns:
        list of `(target, measured, passed)`.
    """
    by_name = {row["name"]: row for row in rows}
    checks = []
    if rows and "contradicted_decisions" in rows[0]:
        count = sum(r["contradicted_decisions"] + r["contradicted_scalings"] for r in rows)
        checks.append(("every artefact's outputs follow its own score (count off)", count,
                       count == 0))
    keras_row = by_name.get("keras")
    if "tflite_float32" in by_name:
        value = by_name["tflite_float32"]["max_rel_diff"]
        checks.append(("float32 TFLite scores = Keras within 1e-4 relative", value, value <= 1e-4))
    if "tflite_int8" in by_name and keras_row:
        drop = keras_row["auroc"] - by_name["tflite_int8"]["auroc"]
        checks.append(("int8 AUROC within 0.005 of Keras", drop, drop <= 0.005))
    if "tflite_int8" in by_name:
        value = by_name["tflite_int8"]["latency_ms"]
        checks.append(("int8 latency <= 0.2 ms per image (batch 1, 1 thread)", value, value <= 0.2))
    if "tflite_int8" in by_name and "tflite_float32" in by_name:
        ratio = by_name["tflite_float32"]["bytes"] / by_name["tflite_int8"]["bytes"]
        checks.append(("int8 file <= 1/3.5 of float32 (ratio >= 3.5)", ratio, ratio >= 3.5))
    return checks




def labelled_images(args, metadata):
    """uint8 test images and labels of the export's protocol."""
    size, channels = metadata.image_size, metadata.channels
    recorded = metadata.training_data
    seed = args.seed if args.seed is not None else recorded.get("seed", 0)
    abnormal = (
        args.abnormal_class
        if args.abnormal_class is not None
        else recorded.get("abnormal_class", 0)
    )
    if recorded.get("spec") and not (args.folder or args.npz or args.abnormal_class is not None):
        # Exported by a ganomaly-keras run: rebuild exactly its test split.
        from ganomaly_keras.data.spec import DataSpec

        test = DataSpec.from_dict(recorded["spec"]).splits()["test"]
        images, labels = test.images, test.labels
    elif args.folder:
        from ganomaly_keras.data import folder_protocol, load_split

        test = folder_protocol(args.folder, seed=seed)["test"]
        images, labels = load_split(test, size, channels)
    elif args.npz:
        from ganomaly_keras.data import load_npz, paper_leave_one_class_out

        train, test = load_npz(args.npz, size, channels)
        split = paper_leave_one_class_out(train, test, abnormal, seed=seed)["test"]
        images, labels = split.images, split.labels
    else:
        from ganomaly_keras.data import leave_one_class_out, load_digits

        digits, classes = load_digits(size, channels)
        split = leave_one_class_out(digits, classes, abnormal, seed=seed)["test"]
        images, labels = split.images, split.labels
    if args.max_images and len(images) > args.max_images:
        keep = np.sort(
            np.random.default_rng(0).permutation(len(images))[: args.max_images]
        )
        images, labels = images[keep], labels[keep]
    return to_uint8_images(images), labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir")
    parser.add_argument("--npz", help="an .npz in Keras' layout (paper protocol test split)")
    parser.add_argument("--folder", help="a dataset folder (its protocol test split)")
    parser.add_argument("--abnormal-class", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-images", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the rows and checks to this file")
    args = parser.parse_args(argv)

    metadata = read_metadata(args.export_dir)
    images, labels = labelled_images(args, metadata)
    runtimes = load_runtimes(args.export_dir, args.threads)
    calibration = (metadata.threshold, metadata.score_min, metadata.score_max)
    rows = compare_runtimes(runtimes, images, labels, calibration=calibration)
    checks = check_targets(rows)
    print(f"{len(images)} labelled images ({int(labels.sum())} anomalous); "
          "differences are against the Keras model")
    print(f"score: {metadata.score_name}: {metadata.score_definition}\n")
    print(markdown_table(rows))
    print("\n| target | measured | result |\n|---|---|---|")
    for name, value, passed in checks:
        print(f"| {name} | {value:.4g} | {'PASS' if passed else 'FAIL'} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "targets": checks}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
