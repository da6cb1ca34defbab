"""The networks the family shares: the reference DCGAN encoder, decoder and
discriminator of GANomaly, their building blocks and BatchNorm. Each model's own
networks live in its folder under `ganomaly_keras.models`."""

from ganomaly_keras.networks.decoder import Decoder
from ganomaly_keras.networks.discriminator import Discriminator
from ganomaly_keras.networks.encoder import Encoder
from ganomaly_keras.networks.layers import validate_image_size
from ganomaly_keras.networks.pixel_normalization import PixelNormalization

__all__ = ["Decoder", "Discriminator", "Encoder", "PixelNormalization", "validate_image_size"]
