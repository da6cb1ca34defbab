"""The defaults of a run, as data (no TensorFlow: the command line checks its
arguments with them before it loads TensorFlow)."""

from ganomaly_keras.models.options import OPTIONS

# The model input side of a run on arrays (digits, .npz, tfds).
IMAGE_SIZE = 32
# What `train --folder` uses unless told otherwise: a folder is an inspection task.
# Measured on KolektorSDD and PIPED (docs/results.md, "Inspection: KolektorSDD and PIPED
# with the folder defaults").
INSPECTION_DEFAULTS = {
    "image_size": 64, "working_size": "auto", "steps": 300, "batch_size": 32,
    "score": "auto",
}
# The model options of `train --folder` for the detectors that take them: restoration
# of synthetic defects with an SSIM term, and the segmentation head, at width 32.
INSPECTION_MODEL_OPTIONS = {
    "width": 32, "synthetic_defects": True, "segmentation_head": True, "ssim_weight": 1.0,
}


def inspection_model_options(detector, given=None):
    """`INSPECTION_MODEL_OPTIONS` that `detector` takes, updated with `given`."""
    options = {
        name: value for name, value in INSPECTION_MODEL_OPTIONS.items()
        if detector in OPTIONS[name][1]
    }
    options.update(given or {})
    return options
