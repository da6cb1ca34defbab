"""The checks of parsed `ganomaly-keras` arguments that need no data and no
TensorFlow: they run before any work, so a wrong option fails at once, by name."""

import os

from ganomaly_keras import arguments
from ganomaly_keras.cli.parser import given_model_options, misplaced_model_options

# Options naming files or folders that must exist, and outputs that must not be
# something else already (a folder where a file goes, or the reverse).
INPUT_PATHS = ("npz", "folder", "mnist", "folder_suite")
OUTPUT_FOLDERS = ("run_dir", "out_dir")


def check_arguments(args):
    """Every check of the parsed arguments that needs no data and no TensorFlow: the
    image size, the working size's tile grid, model options of another detector,
    and the paths (`check_paths`).

    Raises:
        ValueError or FileNotFoundError naming the option.
    """
    from ganomaly_keras.training.defaults import IMAGE_SIZE, INSPECTION_DEFAULTS

    image_size = getattr(args, "image_size", None)
    if image_size is not None:
        arguments.validate_image_size(image_size)
    working_size = getattr(args, "working_size", None)
    if working_size not in (None, "auto"):
        from ganomaly_keras.scoring.tiling import working_shape

        folder = getattr(args, "folder", None) or args.command == "benchmark"
        default = INSPECTION_DEFAULTS["image_size"] if folder else IMAGE_SIZE
        working_shape(working_size, image_size or default)
    if args.command == "train" or getattr(args, "kind", None) == "quality":
        misplaced_model_options(given_model_options(args), args.model)
    check_paths(args)
    if getattr(args, "folder", None):
        from ganomaly_keras.data.folders import detect_layout

        detect_layout(args.folder)


def check_paths(args):
    """Refuse missing inputs and outputs that cannot be written, before any work.

    Raises:
        ValueError or FileNotFoundError naming the option and the path.
    """
    inputs = {"predict": ("images",), "report": ("run_dir",), "preview-defects": ("folder",)}.get(
        args.command, ()
    )
    for name in INPUT_PATHS + inputs:
        path = getattr(args, name, None)
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(f"--{name.replace('_', '-')} {path!r} does not exist.")
    for name in OUTPUT_FOLDERS + (("out",) if args.command == "export" else ()):
        path = getattr(args, name, None)
        if path is not None and os.path.exists(path) and not os.path.isdir(path):
            option = "OUT" if name == "out" else f"--{name.replace('_', '-')}"
            raise ValueError(f"{option} {path!r} is a file; give a folder path.")
    out = getattr(args, "out", None)
    if out is not None and args.command in ("predict", "benchmark", "preview-defects"):
        _check_output_file("--out", out)
    scores = getattr(args, "scores", None)
    if scores is not None:
        _check_output_file("--scores", scores)


def _check_output_file(option, out):
    """Refuse an output file path that is a folder or whose folder is missing."""
    if os.path.isdir(out):
        raise ValueError(f"{option} {out!r} is a folder; give a file path.")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            f"{option} {out!r}: its folder {parent!r} does not exist; create it first."
        )
