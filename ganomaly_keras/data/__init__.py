"""Data for the detectors: sources, the one image path, and protocols.

Sources: NumPy arrays (`preprocess_images`), `.npz` files in Keras' layout
(`load_npz`), tensorflow-datasets (`load_tfds`), scikit-learn's digits (`load_digits`)
and folders in the MVTec AD or reference layout (`folder_protocol`, `image_dataset`).
Every image, file or array, becomes model input through `ganomaly_keras.data.images`.

Names load on first use, so `ganomaly_keras.data.images` (NumPy and Pillow only)
imports no TensorFlow on a device.
"""

from ganomaly_keras.lazy import lazy_names

# Public name -> the module of this package that defines it (relative).
_PUBLIC = {
    "FileSplit": ".folders",
    "Split": ".protocols",
    "contaminated_folders": ".protocols",
    "contaminated_leave_one_class_out": ".protocols",
    "contaminated_normal_classes": ".protocols",
    "decode_image_file": ".decoding",
    "folder_protocol": ".folders",
    "image_dataset": ".decoding",
    "leave_one_class_out": ".protocols",
    "list_images": ".folders",
    "load_digits": ".digits",
    "load_images": ".decoding",
    "load_npz": ".npz",
    "load_split": ".decoding",
    "load_tfds": ".tfds",
    "one_class": ".protocols",
    "paper_leave_one_class_out": ".protocols",
    "preprocess_images": ".preprocessing",
    "read_folder_dataset": ".folders",
    "read_pixels": ".images",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
