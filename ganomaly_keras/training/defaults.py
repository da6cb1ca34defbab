"""The defaults of a run, as data (no TensorFlow: the command line checks its
arguments with them before it loads TensorFlow)."""

# The model input side of a run on arrays (digits, .npz, tfds).
IMAGE_SIZE = 32
# What `train --folder` uses unless told otherwise: a folder is an inspection task.
# Measured on PIPED (docs/results.md, "Inspection: the PIPED suite").
INSPECTION_DEFAULTS = {
    "image_size": 64, "working_size": "auto", "steps": 150, "batch_size": 32,
    "score": "auto",
}
