"""Anomaly scores of GANomaly (DESIGN.md section 3). Higher means more anomalous.

The score of an image is a distance between its code `z = G_E(x)` and the code of its
reconstruction `z_hat = E(G_D(z))`:

- `"latent_mse"` (default, as in the reference code and anomalib): the mean over the
  latent channels of `(z - z_hat) ** 2`;
- `"latent_l1"` (the paper's text): the mean over the latent channels of `|z - z_hat|`.

Scores are computed in inference mode only (BatchNorm uses its moving statistics), so an
image's score never depends on what else is in its batch.
"""

import keras

LATENT_SCORES = ("latent_mse", "latent_l1")
SCORE_DEFINITIONS = {
    "latent_mse": "mean over the latent code of (G_E(x) - E(G(x)))^2",
    "latent_l1": "mean over the latent code of |G_E(x) - E(G(x))|",
}


def validate_score_name(name):
    if name not in LATENT_SCORES:
        raise ValueError(f"score must be one of {LATENT_SCORES}; got {name!r}.")
    return name


def latent_score(z, z_hat, name="latent_mse"):
    """Per-image score from codes of shape `(batch, latent_size)`; returns `(batch,)`."""
    difference = z - z_hat
    if name == "latent_mse":
        return keras.ops.mean(keras.ops.square(difference), axis=-1)
    if name == "latent_l1":
        return keras.ops.mean(keras.ops.abs(difference), axis=-1)
    raise ValueError(f"score must be one of {LATENT_SCORES}; got {name!r}.")


def residual_map(x, x_hat):
    """The anomaly map of every model: `|x - x_hat|` averaged over channels,
    shape `(batch, height, width)`."""
    return keras.ops.mean(keras.ops.abs(x - x_hat), axis=-1)
