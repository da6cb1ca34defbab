"""AnoGAN (Schlegl et al., IPMI 2017): a DCGAN and its per-image latent search. See
README.md beside this file."""

from ganomaly_keras.models.anogan.model import AnoGAN

__all__ = ["AnoGAN"]
