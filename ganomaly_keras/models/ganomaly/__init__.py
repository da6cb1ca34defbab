"""GANomaly (Akcay et al., ACCV 2018): the model and its encoder-decoder-encoder
generator. See README.md beside this file."""

from ganomaly_keras.models.ganomaly.model import GANomaly
from ganomaly_keras.models.ganomaly.networks import Generator

__all__ = ["GANomaly", "Generator"]
