"""Score images on an edge device with a ganomaly-keras `.tflite` export.

Needs NumPy, Pillow, ai-edge-litert and the TensorFlow-free module
`ganomaly_keras.edge` (`pip install --no-deps ganomaly-keras`, or this repository
beside the script); no TensorFlow. Give it the `.tflite` file (its `metadata.json` is
read from the same folder) and an image or a folder of images (PNG, JPEG, BMP). Images
of another size are resized bilinearly to the model's size; the model does the rest of
the preprocessing, scoring, scaling and thresholding itself.

Usage:
    python edge_inference.py model_int8.tflite images/ --out scores.csv
    python edge_inference.py model_int8.tflite part.png --out scores.json --maps maps/
    python edge_inference.py model_int8.tflite --smoke-test

Output rows: path, anomaly_score (raw), normalized_score (0..1), is_anomaly (1/0).
"""

import os
import sys

try:
    from ganomaly_keras.edge import main
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ganomaly_keras.edge import main

if __name__ == "__main__":
    sys.exit(main())
