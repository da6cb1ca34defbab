"""What the tests share: small model settings, their command-line flags, and paths."""

import os

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
# Real data beside the repository (skipped where absent).
SHARED_DATA = os.path.join(REPO, os.pardir, "shared", "data")

# The smallest networks the family builds: fast to train, enough to test behaviour.
TINY = {"width": 8, "latent_size": 8}
TINY_MODEL = {"image_size": 16, "channels": 1, **TINY}
TINY_FLAGS = ["--image-size", "16", "--width", "8", "--latent-size", "8", "--verbose", "0"]


def tiny(cls, **options):
    """A detector of class `cls` at `TINY_MODEL`, with `options` on top."""
    return cls(**{**TINY_MODEL, **options})


def random_images(rng, n=16, size=16, channels=1):
    """`n` uniform random float images in [-1, 1]."""
    return rng.uniform(-1, 1, (n, size, size, channels)).astype("float32")
