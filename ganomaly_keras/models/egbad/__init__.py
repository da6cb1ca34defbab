"""EGBAD (Zenati et al., 2018): the model and its joint discriminator of (x, z)
pairs. See README.md beside this file."""

from ganomaly_keras.models.egbad.discriminator import JointDiscriminator
from ganomaly_keras.models.egbad.model import EGBAD

__all__ = ["EGBAD", "JointDiscriminator"]
