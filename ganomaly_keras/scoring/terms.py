"""Every anomaly score of the package, as named per-image terms. Higher = more anomalous.

A detector's score is one named term. Two kinds exist:

**Paper terms** come from each model's own paper and are computed by the model
(`AdversarialDetector.paper_terms`). GANomaly's are here as well:

- `"latent_mse"` (GANomaly's default, as in the reference code and anomalib): the mean
  over the latent channels of `(z - z_hat) ** 2`, with `z = G_E(x)`,
  `z_hat = E(G(x))`;
- `"latent_l1"` (the paper's text): the mean over the latent channels of `|z - z_hat|`.

**Map terms** are the same for every model. They are built from the model's
reconstruction `x_hat` and from the first convolution block `f` of one of its DCGAN
networks (the discriminator, or the encoder for models whose discriminator is not a
DCGAN encoder):

- `"residual_max"`: the maximum of the residual map `mean_c |x - x_hat|` after a
  k x k box filter (k = `map_smoothing`). A small defect raises a few pixels a lot,
  which a mean over the image dilutes and a maximum keeps.
- `"residual_topk"`: the mean of the top 1% of the smoothed residual map.
- `"feature_max"`: the maximum of the smoothed feature map: the per-position mean
  squared distance between `f(x)` and `f(x_hat)`, bilinearly upsampled to the image.
  It compares local texture rather than pixel values.
- `"standardized_max"`: the maximum of the smoothed residual map standardised per
  position, `(map - mean) / std`, with statistics of the maps of normal training
  images.
- `"standardized_sum"`: the mean of the default paper term, `residual_max` and
  `feature_max`, each standardised by its mean and standard deviation on normal
  training images.
- `"ssim_max"`: the maximum of the smoothed structural dissimilarity map
  `(1 - SSIM(x, x_hat)) / 2` (`ganomaly_keras.scoring.structure`).
- `"msgms_max"`: the maximum of the smoothed multi-scale gradient-magnitude
  dissimilarity map `1 - MSGMS(x, x_hat)`.

A model with a segmentation head (`segmentation_head=True`) adds:

- `"segmentation_max"`: the maximum of the smoothed map of the head's defect
  probabilities;
- `"segmentation_topk"`: the mean of the top 1% of that map.

The two standardised terms use statistics stored in the model, fitted by
`AdversarialDetector.fit_normal_statistics` on normal training images (a run fits
them before it selects a score and calibrates; `calibrate` refuses a standardised
score without them), so saved and exported models compute the same score.

Each term has an anomaly map, exported as `anomaly_map`. `feature_max` uses the
smoothed feature map, `standardized_max` the standardised map, and the structure and
head terms their own smoothed maps (`MAP_DESCRIPTIONS`). Every other term uses the raw
residual map `mean_c |x - x_hat|`, in [0, 2].

Scores are computed in inference mode only (BatchNorm uses its moving statistics), so
an image's score never depends on what else is in its batch.
"""

import keras
import tensorflow as tf

from ganomaly_keras.scoring import structure

LATENT_DEFINITIONS = {
    "latent_mse": "the mean over the latent code of (G_E(x) - E(G(x)))^2",
    "latent_l1": "the mean over the latent code of |G_E(x) - E(G(x))|",
}
MAP_TERMS = (
    "residual_max",
    "residual_topk",
    "feature_max",
    "standardized_max",
    "standardized_sum",
    "ssim_max",
    "msgms_max",
)
# The terms of a model with a segmentation head.
SEGMENTATION_TERMS = ("segmentation_max", "segmentation_topk")
# The terms `standardized_sum` averages, in the order of the stored statistics; "paper"
# stands for the model's default paper term.
STANDARDIZED_INPUTS = ("paper", "residual_max", "feature_max")
TOP_FRACTION = 0.01
# Layers of the feature network's first block: the stride-2 convolution and its
# LeakyReLU.
FEATURE_LAYERS = 2
# A per-position standard deviation is never taken below this fraction of the mean
# one: a position that happened to vary little on a few normal images would otherwise
# dominate the standardised map.
MIN_STD_FRACTION = 0.5
EPSILON = 1e-6


def map_definitions(smoothing):
    box = f"a {smoothing}x{smoothing} box filter" if smoothing > 1 else "no smoothing"
    return {
        "residual_max": f"max over pixels of mean_c |x - G(x)| after {box}",
        "residual_topk": f"mean of the top {TOP_FRACTION:.0%} of pixels of mean_c "
        f"|x - G(x)| after {box}",
        "feature_max": "max over pixels of the feature map mean_c (f(x) - f(G(x)))^2 "
        f"(f = first conv block, upsampled bilinearly) after {box}",
        "standardized_max": f"max over pixels of (mean_c |x - G(x)| after {box} - "
        "mean) / std, per-position statistics of the maps of normal training images",
        "standardized_sum": "mean of the default paper term, residual_max and "
        "feature_max, each standardised by its mean and std on normal training "
        "images",
        "ssim_max": f"max over pixels of (1 - SSIM(x, G(x))) / 2 after {box} (SSIM over "
        "7x7 Gaussian windows of the grayscale)",
        "msgms_max": f"max over pixels of 1 - MSGMS(x, G(x)) after {box} (gradient "
        "magnitude similarity at three scales)",
        "segmentation_max": f"max over pixels of the segmentation head's defect "
        f"probability map after {box}",
        "segmentation_topk": f"mean of the top {TOP_FRACTION:.0%} of the segmentation "
        f"head's defect probability map after {box}",
    }


def weighted_sum(parts, terms):
    """The score `sum(weight * terms[name])` of `parts`, pairs `(weight, name)`.

    A weight of 1 multiplies nothing, so a one-term score is that term exactly.
    """
    total = None
    for weight, name in parts:
        value = terms[name] if weight == 1 else weight * terms[name]
        total = value if total is None else total + value
    return total


def describe(parts, definitions):
    """The words of a weighted sum of terms, from each term's definition."""
    if len(parts) == 1 and parts[0][0] == 1:
        return definitions[parts[0][1]]
    return " + ".join(f"{weight:g} * ({definitions[name]})" for weight, name in parts)


def latent_terms(z, z_hat):
    """GANomaly's per-image terms of codes `(batch, latent_size)`: "latent_mse" and
    "latent_l1", each `(batch,)`."""
    difference = z - z_hat
    return {
        "latent_mse": keras.ops.mean(keras.ops.square(difference), axis=-1),
        "latent_l1": keras.ops.mean(keras.ops.abs(difference), axis=-1),
    }


def residual_map(x, x_hat):
    """`|x - x_hat|` averaged over channels, shape `(batch, height, width)`."""
    return keras.ops.mean(keras.ops.abs(x - x_hat), axis=-1)


def feature_map(features, reconstructed_features, image_size):
    """Per-position mean squared feature distance, upsampled to `image_size`."""
    distance = keras.ops.mean(
        keras.ops.square(features - reconstructed_features), axis=-1, keepdims=True
    )
    resized = tf.image.resize(distance, (image_size, image_size), method="bilinear")
    return resized[..., 0]


def smooth(maps, size):
    """A `size` x `size` box filter over maps `(batch, h, w)` (mean of the pixels
    inside the image, so borders are not darkened)."""
    if size <= 1:
        return maps
    pooled = tf.nn.avg_pool2d(maps[..., None], size, 1, "SAME")
    return pooled[..., 0]


def spatial_max(maps):
    return keras.ops.max(keras.ops.reshape(maps, (keras.ops.shape(maps)[0], -1)), axis=-1)


def top_mean(maps, fraction=TOP_FRACTION):
    """Mean of the highest `fraction` of each map's pixels."""
    pixels = int(maps.shape[1]) * int(maps.shape[2])
    count = max(1, int(round(pixels * fraction)))
    flat = keras.ops.reshape(maps, (-1, pixels))
    return keras.ops.mean(tf.math.top_k(flat, k=count).values, axis=-1)


def standardize(values, mean, std):
    """`(values - mean) / std` with `std` floored at `MIN_STD_FRACTION` of its mean."""
    floor = MIN_STD_FRACTION * keras.ops.mean(std) + EPSILON
    return (values - mean) / keras.ops.maximum(std, floor)


def needs_features(names):
    return any(n in ("feature_max", "standardized_sum") for n in names)


def needs_segmentation(names):
    return any(n in SEGMENTATION_TERMS for n in names)


def raw_maps(x, x_hat, features, names=(), segmentation=None):
    """The unsmoothed maps of a batch, each `(batch, h, w)`: "residual"; with
    `features` (the pair `(f(x), f(x_hat))`), "feature"; "ssim" and "msgms" when
    `names` ask for them; with `segmentation` (the head's probabilities
    `(batch, h, w)`), "segmentation"."""
    maps = {"residual": residual_map(x, x_hat)}
    if features is not None:
        maps["feature"] = feature_map(features[0], features[1], int(x.shape[1]))
    if "ssim_max" in names:
        maps["ssim"] = structure.ssim_map(x, x_hat)
    if "msgms_max" in names:
        maps["msgms"] = structure.msgms_map(x, x_hat)
    if segmentation is not None:
        maps["segmentation"] = segmentation
    return maps


def terms_from_maps(paper, maps, statistics, smoothing, names):
    """The requested terms from the paper terms and the raw maps.

    Args:
        paper: dict of the model's paper terms `(batch,)`, default first.
        maps: `raw_maps` (of whole images, or assembled from tiles).
        statistics: dict of the stored normal statistics: "term_mean", "term_std"
            (over `STANDARDIZED_INPUTS`), "map_mean", "map_std" (per position).
        smoothing: box-filter size of the maps.
        names: the terms to compute.

    Returns:
        `(terms, maps)`: dicts of `(batch,)` scores and `(batch, h, w)` maps; maps
        keyed "residual", "smoothed_residual", "feature" (smoothed), "standardized".
    """
    terms = dict(paper)
    maps = dict(maps)
    maps["smoothed_residual"] = smooth(maps["residual"], smoothing)
    for name in ("feature", "ssim", "msgms", "segmentation"):
        if name in maps:
            maps[name] = smooth(maps[name], smoothing)
    wanted = set(names)
    if wanted & {"residual_max", "standardized_sum"}:
        terms["residual_max"] = spatial_max(maps["smoothed_residual"])
    if "residual_topk" in wanted:
        terms["residual_topk"] = top_mean(maps["smoothed_residual"])
    if wanted & {"feature_max", "standardized_sum"}:
        terms["feature_max"] = spatial_max(maps["feature"])
    if "standardized_max" in wanted:
        maps["standardized"] = standardize(
            maps["smoothed_residual"], statistics["map_mean"], statistics["map_std"]
        )
        terms["standardized_max"] = spatial_max(maps["standardized"])
    for name in ("ssim", "msgms", "segmentation"):
        if f"{name}_max" in wanted:
            terms[f"{name}_max"] = spatial_max(maps[name])
    if "segmentation_topk" in wanted:
        terms["segmentation_topk"] = top_mean(maps["segmentation"])
    if "standardized_sum" in wanted:
        default_paper = next(iter(paper.values()))
        inputs = [default_paper, terms["residual_max"], terms["feature_max"]]
        standardized = [
            (value - statistics["term_mean"][i])
            / keras.ops.maximum(statistics["term_std"][i], EPSILON)
            for i, value in enumerate(inputs)
        ]
        terms["standardized_sum"] = sum(standardized) / len(standardized)
    return {n: terms[n] for n in names}, maps


def compute_terms(paper, x, x_hat, features, statistics, smoothing, names):
    """`terms_from_maps` of whole images `x` and their reconstructions `x_hat`."""
    return terms_from_maps(paper, raw_maps(x, x_hat, features), statistics, smoothing, names)


MAP_DESCRIPTIONS = {
    "residual": "|x - G(x)| averaged over channels, in [0, 2]",
    "feature": "feature distance mean_c (f(x) - f(G(x)))^2, upsampled and smoothed",
    "standardized": "smoothed residual standardised per position by normal statistics",
    "ssim": "(1 - SSIM(x, G(x))) / 2, smoothed, in [0, 1]",
    "msgms": "1 - MSGMS(x, G(x)), smoothed, in [0, 1]",
    "segmentation": "the segmentation head's defect probability, smoothed, in [0, 1]",
}
_MAP_OF_SCORE = {
    "feature_max": "feature",
    "standardized_max": "standardized",
    "ssim_max": "ssim",
    "msgms_max": "msgms",
    "segmentation_max": "segmentation",
    "segmentation_topk": "segmentation",
}


def map_name(score):
    """Which of `compute_terms`' maps is the anomaly map of `score`."""
    return _MAP_OF_SCORE.get(score, "residual")
