"""Data for GANomaly: sources, preprocessing to the model's contract, and protocols."""

from ganomaly_keras.data.digits import load_digits
from ganomaly_keras.data.npz import load_npz
from ganomaly_keras.data.preprocessing import preprocess_images
from ganomaly_keras.data.protocols import (
    Split,
    leave_one_class_out,
    paper_leave_one_class_out,
)

__all__ = [
    "Split",
    "leave_one_class_out",
    "load_digits",
    "load_npz",
    "paper_leave_one_class_out",
    "preprocess_images",
]
