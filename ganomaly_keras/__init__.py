"""GANomaly for Keras 3: semi-supervised image anomaly detection (Akcay et al., 2018)."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# oneDNN kernels double the training speed of these convolutions on CPUs where
# TensorFlow leaves them off by default (AMD, for one). Effective only if TensorFlow
# is not imported yet; set TF_ENABLE_ONEDNN_OPTS=0 to opt out.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# One op at a time, each using every core: with TensorFlow's default of running ops
# concurrently too, the two thread pools oversubscribe the cores and training speed
# halves at random from one process to the next (measured on 2 cores: 125 or 230
# images/s by default, 226 every time with this). Same caveat; set it to opt out.
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "ganomaly_keras needs Keras' TensorFlow backend, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing."
    )

__version__ = "0.1.0"

from ganomaly_keras.models import (  # noqa: E402
    EGBAD,
    AnoGAN,
    GANomaly,
    SimultaneousEncoderGAN,
    SkipGANomaly,
)
from ganomaly_keras.networks import (  # noqa: E402
    Critic,
    Decoder,
    Discriminator,
    Encoder,
    Generator,
    LatentDiscriminator,
    UNetGenerator,
)

__all__ = [
    "AnoGAN",
    "EGBAD",
    "GANomaly",
    "SimultaneousEncoderGAN",
    "SkipGANomaly",
    "Critic",
    "Decoder",
    "Discriminator",
    "Encoder",
    "Generator",
    "LatentDiscriminator",
    "UNetGenerator",
    "__version__",
]
