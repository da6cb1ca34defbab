"""The detectors of the GANomaly family, one folder each, on one shared base.

`base.AdversarialDetector` is the contract every member meets and `training_step`
the one training step they all use; `registry` names them for runs and the command
line. Importing this package registers every detector and network with Keras, so
saved `.keras` files load.
"""

from ganomaly_keras.models.anogan import AnoGAN
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.egbad import EGBAD, JointDiscriminator
from ganomaly_keras.models.ganomaly import GANomaly, Generator
from ganomaly_keras.models.registry import DETECTORS, detector_class, model_options
from ganomaly_keras.models.simultaneous_encoder import Critic, SimultaneousEncoderGAN
from ganomaly_keras.models.skip_ganomaly import (
    LatentDiscriminator,
    SkipGANomaly,
    UNetGenerator,
)

__all__ = [
    "AdversarialDetector", "AnoGAN", "Critic", "DETECTORS", "EGBAD", "GANomaly",
    "Generator", "JointDiscriminator", "LatentDiscriminator",
    "SimultaneousEncoderGAN", "SkipGANomaly", "UNetGenerator", "detector_class",
    "model_options",
]
