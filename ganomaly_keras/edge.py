"""Scoring images with an exported `.tflite` model, without TensorFlow.

Needs only NumPy, Pillow and ai-edge-litert: `import ganomaly_keras.edge` imports no
TensorFlow, so on a device `pip install --no-deps ganomaly-keras` plus
`pip install numpy pillow ai-edge-litert` is enough. It holds the one LiteRT
interpreter set-up (`open_interpreter`) and the edge runner's command line; images
are read by the package's one image path, `ganomaly_keras.data.images`, as in
training, `evaluate` and `predict`:

    python -m ganomaly_keras.edge model_int8.tflite images/ --out scores.csv
    python -m ganomaly_keras.edge model_int8.tflite part.png --maps maps/
    python -m ganomaly_keras.edge model_int8.tflite --smoke-test

`ganomaly_keras.deploy.runtimes.TFLiteRuntime` and `export/edge_inference.py` use this
module. An image folder may hold subfolders (an MVTec-layout `test/` folder, say);
every image under it is scored.
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np
from PIL import Image

from ganomaly_keras.data.images import ImageReadError, image_files, read_pixels
from ganomaly_keras.deploy.metadata import (
    EDGE_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAMES,
    MetadataError,
    read_metadata,
)


class EdgeInferenceError(ValueError):
    """A problem with the inputs, named with how to fix it."""


def open_interpreter(model_path, num_threads=1, delegate="default"):
    """A LiteRT interpreter for `model_path`.

    Args:
        model_path: a `.tflite` file.
        num_threads: CPU threads.
        delegate: "default" (XNNPACK) or "none" (the builtin kernels alone; the
            export's metadata says when a file needs it).

    Returns:
        an `ai_edge_litert.interpreter.Interpreter`.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    options = {}
    if delegate == "none":
        options["experimental_op_resolver_type"] = (
            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
    try:
        return Interpreter(model_path=os.fspath(model_path), num_threads=num_threads, **options)
    except ValueError as error:
        raise EdgeInferenceError(f"{model_path} is not a LiteRT model: {error}") from None


def recorded_delegate(model_path):
    """The delegate the export recorded for `model_path` ("default" without one)."""
    folder = os.path.dirname(os.path.abspath(model_path))
    if not os.path.exists(os.path.join(folder, "metadata.json")):
        return "default"
    return read_metadata(folder).artefact(model_path).get("litert_delegate", "default")


def check_signature(runner, image_shape, channels, where):
    """The model's input and outputs against its metadata, before any image runs.

    Args:
        runner: the file's signature runner.
        image_shape: `(height, width)` the metadata states.
        channels: the metadata's channels.
        where: the file, for messages.
    """
    details = runner.get_input_details()
    if INPUT_NAME not in details:
        raise EdgeInferenceError(
            f"{where} has no 'images' input (it has {sorted(details)}); it is not a "
            "ganomaly-keras export."
        )
    shape = tuple(int(d) for d in details[INPUT_NAME]["shape"])
    if shape != (1, *image_shape, channels):
        raise EdgeInferenceError(
            f"{where} takes images of shape {shape}, but its metadata.json says "
            f"{(1, *image_shape, channels)}; the two files are from different exports."
        )
    if np.dtype(details[INPUT_NAME]["dtype"]) != np.uint8:
        raise EdgeInferenceError(
            f"{where} takes {np.dtype(details[INPUT_NAME]['dtype'])} images, not uint8; "
            "it is not a ganomaly-keras export."
        )
    missing = set(OUTPUT_NAMES) - set(runner.get_output_details())
    if missing:
        raise EdgeInferenceError(f"{where} lacks the outputs {sorted(missing)}.")


class EdgeDetector:
    """A `.tflite` anomaly detector and its metadata, run with LiteRT.

    Args:
        model_path: the `.tflite` file.
        metadata_path: its `metadata.json` (default: beside the model).
        num_threads: LiteRT CPU threads.
        xnnpack: use XNNPACK unless the metadata says the file needs the builtin
            kernels alone; False always runs without it.
    """

    def __init__(self, model_path, metadata_path=None, num_threads=1, xnnpack=True):
        if not os.path.isfile(model_path):
            raise EdgeInferenceError(f"no model file at {model_path}.")
        try:
            self.metadata = read_metadata(
                metadata_path or os.path.dirname(os.path.abspath(model_path))
            )
        except MetadataError as error:
            raise EdgeInferenceError(str(error)) from None
        self.image_shape = self.metadata.image_shape
        self.channels = self.metadata.channels
        artefact = self.metadata.artefact(model_path)
        # The export ran the file once and recorded whether XNNPACK could run it.
        delegate = "none" if not xnnpack else artefact.get("litert_delegate", "default")
        self.interpreter = open_interpreter(model_path, num_threads, delegate)
        try:
            self.runner = self.interpreter.get_signature_runner(
                artefact.get("signature", EDGE_SIGNATURE)
            )
        except ValueError as error:
            raise EdgeInferenceError(f"{model_path}: {error}") from None
        check_signature(self.runner, self.image_shape, self.channels, model_path)

    def score(self, pixels):
        """Score one image.

        Args:
            pixels: uint8 `(size, size, channels)` or `(1, size, size, channels)`.

        Returns:
            dict of the model's four outputs, each with a batch axis of 1.
        """
        pixels = np.asarray(pixels, np.uint8).reshape(
            1, *self.image_shape, self.channels
        )
        return self.runner(**{INPUT_NAME: pixels})

    def score_file(self, path):
        """Score an image file, read by the package's one image path
        (`ganomaly_keras.data.images.read_pixels`).

        Args:
            path: the image file.

        Returns:
            `(outputs, (width, height))`: the four outputs and the file's own size.
        """
        pixels, original_size = read_pixels(path, self.image_shape, self.channels)
        return self.score(pixels), original_size


def save_map(anomaly_map, size, path):
    """An anomaly map (values in [0, 2]) as an 8-bit PNG at the original image size."""
    scaled = np.clip(anomaly_map, 0.0, 1.0) * 255.0
    image = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
    image.resize(size, Image.BILINEAR).save(path)


def write_rows(rows, out):
    """Rows as CSV (stdout, or a file) or as JSON (a `.json` file)."""
    if out is not None and out.endswith(".json"):
        with open(out, "w") as handle:
            json.dump(rows, handle, indent=2)
        return
    stream = open(out, "w", newline="") if out else sys.stdout
    try:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if out:
            stream.close()


def smoke_test(model_path, delegate):
    """Exit status 0 when `model_path` scores one grey image to a finite score with
    `delegate`; run in a child process by the export, since a native crash of some
    LiteRT kernels takes the whole process down."""
    interpreter = open_interpreter(model_path, 1, delegate)
    runner = interpreter.get_signature_runner(EDGE_SIGNATURE)
    shape = runner.get_input_details()[INPUT_NAME]["shape"]
    outputs = runner(**{INPUT_NAME: np.full(shape, 128, np.uint8)})
    return 0 if np.all(np.isfinite(outputs["anomaly_score"])) else 3


def run(args):
    detector = EdgeDetector(args.model, args.metadata, args.threads, not args.no_xnnpack)
    paths = image_files(args.images)
    if args.maps:
        os.makedirs(args.maps, exist_ok=True)
    rows = []
    start = time.perf_counter()
    for path in paths:
        outputs, original_size = detector.score_file(path)
        rows.append({
            "path": path,
            "anomaly_score": float(outputs["anomaly_score"][0]),
            "normalized_score": float(outputs["normalized_score"][0]),
            "is_anomaly": int(outputs["is_anomaly"][0]),
        })
        if args.maps:
            stem = os.path.splitext(os.path.basename(path))[0]
            save_map(
                outputs["anomaly_map"][0], original_size,
                os.path.join(args.maps, f"{stem}_anomaly_map.png"),
            )
    seconds = time.perf_counter() - start
    write_rows(rows, args.out)
    flagged = sum(r["is_anomaly"] for r in rows)
    print(
        f"scored {len(rows)} images, {flagged} flagged anomalous, "
        f"{1000 * seconds / len(rows):.2f} ms per image",
        file=sys.stderr,
    )
    return rows


def main(argv=None):
    """The edge runner's command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="edge_inference", description="Score images with a ganomaly-keras .tflite export."
    )
    parser.add_argument("model", help="the .tflite file")
    parser.add_argument("images", nargs="?", help="an image file or a folder of images")
    parser.add_argument("--out", help="CSV or .json output file (default: CSV on stdout)")
    parser.add_argument("--maps", help="folder to write anomaly maps as PNG")
    parser.add_argument("--metadata", help="metadata.json (default: beside the model)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-xnnpack", action="store_true",
        help="LiteRT's builtin kernels only (metadata.json turns this on for files "
        "that XNNPACK could not run at export time)",
    )
    parser.add_argument(
        "--smoke-test", choices=("default", "none"), nargs="?", const="default",
        help="run one grey image with this delegate and exit 0 if the score is finite",
    )
    args = parser.parse_args(argv)
    if args.smoke_test:
        return smoke_test(args.model, args.smoke_test)
    if args.images is None:
        parser.error("give an image file or a folder of images")
    try:
        run(args)
    except (EdgeInferenceError, ImageReadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
