"""Anomaly-detection models of the GANomaly family, on one shared base."""

from ganomaly_keras.models.anogan import AnoGAN
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.egbad import EGBAD
from ganomaly_keras.models.encoder_gan import SimultaneousEncoderGAN
from ganomaly_keras.models.ganomaly import GANomaly
from ganomaly_keras.models.registry import DETECTORS, detector_class, model_options
from ganomaly_keras.models.skip_ganomaly import SkipGANomaly

__all__ = [
    "AdversarialDetector", "AnoGAN", "DETECTORS", "EGBAD", "GANomaly",
    "SimultaneousEncoderGAN", "SkipGANomaly", "detector_class", "model_options",
]
