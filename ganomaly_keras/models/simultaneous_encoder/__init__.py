"""Berg, Ahlberg, Felsberg 2019: a WGAN-GP with an encoder trained simultaneously on
generated images, and its critic. See README.md
beside this file."""

from ganomaly_keras.models.simultaneous_encoder.critic import Critic
from ganomaly_keras.models.simultaneous_encoder.model import SimultaneousEncoderGAN

__all__ = ["Critic", "SimultaneousEncoderGAN"]
