"""Data for GANomaly: sources, preprocessing to the model's contract, and protocols.

Sources: NumPy arrays (`preprocess_images`), `.npz` files in Keras' layout
(`load_npz`), tensorflow-datasets (`load_tfds`), scikit-learn's digits (`load_digits`)
and folders in the MVTec AD or reference layout (`folder_protocol`, `image_dataset`).
"""

from ganomaly_keras.data.digits import load_digits
from ganomaly_keras.data.decoding import (
    decode_image_file,
    image_dataset,
    load_images,
    load_split,
)
from ganomaly_keras.data.folders import FileSplit, folder_protocol, list_images, read_folder_dataset
from ganomaly_keras.data.npz import load_npz
from ganomaly_keras.data.preprocessing import preprocess_images
from ganomaly_keras.data.protocols import (
    Split,
    contaminated_folders,
    contaminated_leave_one_class_out,
    contaminated_normal_classes,
    leave_one_class_out,
    one_class,
    paper_leave_one_class_out,
)
from ganomaly_keras.data.tfds import load_tfds

__all__ = [
    "FileSplit",
    "Split",
    "contaminated_folders",
    "contaminated_leave_one_class_out",
    "contaminated_normal_classes",
    "decode_image_file",
    "folder_protocol",
    "image_dataset",
    "leave_one_class_out",
    "list_images",
    "load_digits",
    "load_images",
    "load_npz",
    "load_split",
    "load_tfds",
    "one_class",
    "paper_leave_one_class_out",
    "preprocess_images",
    "read_folder_dataset",
]
