"""skip-GANomaly (Akcay et al., IJCNN 2019): the model, its U-Net generator and its
latent-feature discriminator. See README.md beside this file."""

from ganomaly_keras.models.skip_ganomaly.discriminator import LatentDiscriminator
from ganomaly_keras.models.skip_ganomaly.model import SkipGANomaly
from ganomaly_keras.models.skip_ganomaly.unet import UNetGenerator

__all__ = ["LatentDiscriminator", "SkipGANomaly", "UNetGenerator"]
