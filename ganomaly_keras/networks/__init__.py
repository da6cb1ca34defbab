"""The networks of GANomaly (the reference DCGAN encoder, decoder and discriminator),
skip-GANomaly (U-Net, latent discriminator), Berg et al. (critic, pixel
normalisation) and EGBAD (joint discriminator)."""

from ganomaly_keras.networks.critic import Critic
from ganomaly_keras.networks.decoder import Decoder
from ganomaly_keras.networks.discriminator import Discriminator
from ganomaly_keras.networks.encoder import Encoder
from ganomaly_keras.networks.generator import Generator
from ganomaly_keras.networks.joint_discriminator import JointDiscriminator
from ganomaly_keras.networks.latent_discriminator import LatentDiscriminator
from ganomaly_keras.networks.layers import validate_image_size
from ganomaly_keras.networks.pixel_normalization import PixelNormalization
from ganomaly_keras.networks.unet import UNetGenerator

__all__ = [
    "Critic",
    "Decoder",
    "Discriminator",
    "Encoder",
    "Generator",
    "JointDiscriminator",
    "LatentDiscriminator",
    "PixelNormalization",
    "UNetGenerator",
    "validate_image_size",
]
