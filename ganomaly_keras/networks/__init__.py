"""The DCGAN networks of GANomaly (DESIGN.md section 1)."""

from ganomaly_keras.networks.decoder import Decoder
from ganomaly_keras.networks.discriminator import Discriminator
from ganomaly_keras.networks.encoder import Encoder
from ganomaly_keras.networks.generator import Generator
from ganomaly_keras.networks.layers import validate_image_size

__all__ = ["Decoder", "Discriminator", "Encoder", "Generator", "validate_image_size"]
