"""Anomaly-detection models: GANomaly and, later, its family."""

from ganomaly_keras.models.ganomaly import GANomaly

__all__ = ["GANomaly"]
