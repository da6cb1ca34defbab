"""Deployment: `export.export_model` writes a calibrated detector as a SavedModel and
LiteRT files (`writers`, with `float_head` keeping every file's decision on its own
score), with `metadata.json` (`metadata`, readable without TensorFlow) and a model
card (`model_card`); `serving` is the graph they all compute; `runtimes` runs an
export's artefacts side by side.

Importing this package loads nothing: `ganomaly_keras.deploy.metadata` stays
TensorFlow-free for the edge runner.
"""
