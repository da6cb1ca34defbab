"""The loss arithmetic the family members share: binary cross-entropy on logits, the
DCGAN discriminator loss, a step's weighted loss dict, and float32 casts of
mixed-precision outputs."""

import keras

from ganomaly_keras.scoring import terms as scoring_terms


def mean_bce(target, logits):
    """Mean binary cross-entropy of logits against a target of 0s or 1s."""
    target = keras.ops.full_like(logits, target)
    return keras.ops.mean(keras.ops.binary_crossentropy(target, logits, from_logits=True))


def discriminator_bce(real_logits, fake_logits):
    """The DCGAN discriminator loss `0.5 * (BCE(D(x), 1) + BCE(D(fake), 0))`."""
    return 0.5 * (mean_bce(1.0, real_logits) + mean_bce(0.0, fake_logits))


def weighted_losses(parts, terms, discriminator_loss):
    """A step's loss dict: "g_loss" (the weighted sum of `parts`, pairs
    `(weight, name)` of `terms`), every term, and "d_loss"."""
    return {
        "g_loss": scoring_terms.weighted_sum(parts, terms), **terms, "d_loss": discriminator_loss,
    }


def as_float32(*tensors):
    """The tensors in float32, whatever the layers computed in (mixed precision)."""
    return tuple(keras.ops.cast(t, "float32") for t in tensors)
