"""Score images on an edge device with a ganomaly-keras `.tflite` export.

Needs only numpy, Pillow and ai-edge-litert (`pip install numpy pillow ai-edge-litert`);
no TensorFlow, no ganomaly-keras. Give it the `.tflite` file (its `metadata.json` is
read from the same folder) and an image or a folder of images (PNG, JPEG, BMP). Images
of another size are resized bilinearly to the model's size; the model does the rest of
the preprocessing, scoring, scaling and thresholding itself.

Usage:
    python edge_inference.py model_int8.tflite images/ --out scores.csv
    python edge_inference.py model_int8.tflite part.png --out scores.json --maps maps/

Output rows: path, anomaly_score (raw), normalized_score (0..1), is_anomaly (1/0).
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# Pillow modes accepted as-is for each channel count.
MODES = {1: ("L",), 3: ("RGB",)}
SUPPORTED_SCHEMA = 1
OUTPUTS = ("anomaly_score", "normalized_score", "is_anomaly", "anomaly_map")


class EdgeInferenceError(Exception):
    """A problem with the inputs, named with how to fix it."""


def load_metadata(model_path, metadata_path=None):
    metadata_path = metadata_path or os.path.join(
        os.path.dirname(os.path.abspath(model_path)), "metadata.json"
    )
    try:
        with open(metadata_path) as handle:
            metadata = json.load(handle)
    except FileNotFoundError:
        raise EdgeInferenceError(
            f"no metadata.json at {metadata_path}; keep it beside the .tflite file or "
            "pass --metadata."
        ) from None
    except json.JSONDecodeError as error:
        raise EdgeInferenceError(f"{metadata_path} is not valid JSON: {error}") from None
    validate_metadata(metadata, metadata_path)
    return metadata


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def validate_metadata(metadata, where="metadata.json"):
    """Check everything the runner relies on before it runs anything.

    Raises:
        EdgeInferenceError: naming the first field that is missing or wrong.
    """
    def bad(field, value, wanted):
        raise EdgeInferenceError(
            f"{where}: {field} is {value!r}, but the runner needs {wanted}; re-export "
            "the model with ganomaly-keras, or restore the metadata.json written with it."
        )

    if not isinstance(metadata, dict):
        bad("the document", type(metadata).__name__, "a JSON object")
    if metadata.get("schema_version") != SUPPORTED_SCHEMA:
        raise EdgeInferenceError(
            f"{where} has schema_version {metadata.get('schema_version')!r}; "
            f"this runner reads version {SUPPORTED_SCHEMA}."
        )
    inp = metadata.get("input")
    if not isinstance(inp, dict):
        bad("input", inp, "an object with the input's name, dtype, size and channels")
    size = inp.get("image_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 16 or size & (size - 1):
        bad("input.image_size", size, "a power of two >= 16")
    if inp.get("channels") not in (1, 3):
        bad("input.channels", inp.get("channels"), "1 or 3")
    if inp.get("dtype") != "uint8":
        bad("input.dtype", inp.get("dtype"), '"uint8"')
    if inp.get("layout", "NHWC") != "NHWC":
        bad("input.layout", inp.get("layout"), '"NHWC"')
    if not _is_number(metadata.get("threshold")):
        bad("threshold", metadata.get("threshold"), "a finite number")
    scaling = metadata.get("scaling")
    if not isinstance(scaling, dict) or not all(
        _is_number(scaling.get(k)) for k in ("score_min", "score_max")
    ):
        bad("scaling", scaling, "finite score_min and score_max")
    if not isinstance(metadata.get("artefacts"), dict):
        bad("artefacts", metadata.get("artefacts"), "an object of exported files")
    return metadata


def check_signature(runner, image_size, channels, where):
    """The model's input and outputs against its metadata, before any image runs."""
    details = runner.get_input_details()
    if "images" not in details:
        raise EdgeInferenceError(
            f"{where} has no 'images' input (it has {sorted(details)}); it is not a "
            "ganomaly-keras export."
        )
    shape = tuple(int(d) for d in details["images"]["shape"])
    if shape != (1, image_size, image_size, channels):
        raise EdgeInferenceError(
            f"{where} takes images of shape {shape}, but its metadata.json says "
            f"(1, {image_size}, {image_size}, {channels}); the two files are from "
            "different exports."
        )
    if np.dtype(details["images"]["dtype"]) != np.uint8:
        raise EdgeInferenceError(
            f"{where} takes {np.dtype(details['images']['dtype'])} images, not uint8; "
            "it is not a ganomaly-keras export."
        )
    missing = set(OUTPUTS) - set(runner.get_output_details())
    if missing:
        raise EdgeInferenceError(f"{where} lacks the outputs {sorted(missing)}.")


def artefact_of(metadata, model_path):
    """The metadata entry of the model file (signature, delegate), or {}."""
    name = os.path.basename(model_path)
    for artefact in metadata.get("artefacts", {}).values():
        if artefact.get("file") == name:
            return artefact
    return {}


def read_image(path, image_size, channels, convert=False):
    """An image file as uint8 `(1, image_size, image_size, channels)`, and its size.

    Raises EdgeInferenceError naming the file when it is not an image, and when its
    channels do not match the model's (unless `convert`).
    """
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise EdgeInferenceError(f"cannot read image {path}: {error}") from None
    if image.mode not in MODES[channels]:
        if not convert:
            raise EdgeInferenceError(
                f"{path} is a {image.mode} image but the model takes "
                f"{'grayscale (L)' if channels == 1 else 'RGB'} images; convert it, "
                "or pass --convert-channels to convert automatically."
            )
        image = image.convert(MODES[channels][0])
    original_size = image.size
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8).reshape(image_size, image_size, channels)
    return pixels[None], original_size


def list_inputs(target):
    if os.path.isdir(target):
        paths = sorted(
            os.path.join(target, n)
            for n in os.listdir(target)
            if n.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not paths:
            raise EdgeInferenceError(f"folder {target} holds no PNG/JPEG/BMP images.")
        return paths
    if not os.path.exists(target):
        raise EdgeInferenceError(f"{target} does not exist.")
    return [target]


class EdgeDetector:
    """A `.tflite` anomaly detector and its metadata, run with LiteRT.

    Args:
        model_path: the `.tflite` file.
        metadata_path: its `metadata.json` (default: beside the model).
        num_threads: LiteRT CPU threads.
    """

    def __init__(self, model_path, metadata_path=None, num_threads=1, xnnpack=True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if not os.path.isfile(model_path):
            raise EdgeInferenceError(f"no model file at {model_path}.")
        self.metadata = load_metadata(model_path, metadata_path)
        self.image_size = int(self.metadata["input"]["image_size"])
        self.channels = int(self.metadata["input"]["channels"])
        artefact = artefact_of(self.metadata, model_path)
        options = {}
        # The export ran the file once and recorded whether XNNPACK could run it.
        if not xnnpack or artefact.get("litert_delegate") == "none":
            options["experimental_op_resolver_type"] = (
                OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        try:
            self.interpreter = Interpreter(
                model_path=model_path, num_threads=num_threads, **options
            )
        except ValueError as error:
            raise EdgeInferenceError(f"{model_path} is not a LiteRT model: {error}") from None
        try:
            self.runner = self.interpreter.get_signature_runner(
                artefact.get("signature", "serve_batch1")
            )
        except ValueError as error:
            raise EdgeInferenceError(f"{model_path}: {error}") from None
        check_signature(self.runner, self.image_size, self.channels, model_path)

    def score(self, pixels):
        """uint8 `(1, size, size, channels)` -> dict of the model's outputs (batch 1)."""
        return self.runner(images=pixels)

    def score_file(self, path, convert=False):
        pixels, original_size = read_image(path, self.image_size, self.channels, convert)
        outputs = self.score(pixels)
        return outputs, original_size


def save_map(anomaly_map, size, path):
    """An anomaly map (values in [0, 2]) as an 8-bit PNG at the original image size."""
    scaled = np.clip(anomaly_map, 0.0, 1.0) * 255.0
    image = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
    image.resize(size, Image.BILINEAR).save(path)


def write_rows(rows, out):
    if out is None:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    elif out.endswith(".json"):
        with open(out, "w") as handle:
            json.dump(rows, handle, indent=2)
    else:
        with open(out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def run(args):
    detector = EdgeDetector(args.model, args.metadata, args.threads, not args.no_xnnpack)
    paths = list_inputs(args.images)
    if args.maps:
        os.makedirs(args.maps, exist_ok=True)
    rows = []
    start = time.perf_counter()
    for path in paths:
        outputs, original_size = detector.score_file(path, args.convert_channels)
        rows.append(
            {
                "path": path,
                "anomaly_score": float(outputs["anomaly_score"][0]),
                "normalized_score": float(outputs["normalized_score"][0]),
                "is_anomaly": int(outputs["is_anomaly"][0]),
            }
        )
        if args.maps:
            stem = os.path.splitext(os.path.basename(path))[0]
            save_map(
                outputs["anomaly_map"][0],
                original_size,
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the .tflite file")
    parser.add_argument("images", help="an image file or a folder of images")
    parser.add_argument("--out", help="CSV or .json output file (default: CSV on stdout)")
    parser.add_argument("--maps", help="folder to write anomaly maps as PNG")
    parser.add_argument("--metadata", help="metadata.json (default: beside the model)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-xnnpack",
        action="store_true",
        help="LiteRT's builtin kernels only (metadata.json turns this on for files "
        "that XNNPACK could not run at export time)",
    )
    parser.add_argument(
        "--convert-channels",
        action="store_true",
        help="convert images to the model's colour mode instead of failing",
    )
    args = parser.parse_args(argv)
    try:
        run(args)
    except EdgeInferenceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
