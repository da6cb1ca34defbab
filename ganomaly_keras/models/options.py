"""The detectors' names and their options, as data: what the command line needs
without importing TensorFlow (`ganomaly-keras --help` answers at once).

`OPTIONS` maps each constructor option a user may set to `(default, detectors that
take it, its help)`: the first sentence of its `Args:` entry. It is written from the
constructors (`ganomaly_keras.models.registry.all_options`), and a test keeps the two
equal: a new constructor argument fails the suite until it is added here.
"""

DETECTOR_NAMES = (
    "ganomaly",
    "skip_ganomaly",
    "simultaneous_encoder_gan",
    "egbad",
    "anogan",
)

OPTIONS = {
    "extra_layers": (
        0,
        ("ganomaly", "skip_ganomaly"),
        "extra 3x3 conv blocks in every network (0 in the paper).",
    ),
    "adversarial_weight": (
        1.0,
        ("ganomaly", "skip_ganomaly"),
        "weight of the feature-matching loss (1).",
    ),
    "contextual_weight": (
        50.0,
        ("ganomaly", "skip_ganomaly"),
        "weight of the L1 reconstruction loss (50).",
    ),
    "encoder_weight": (1.0, ("ganomaly",), "weight of the latent L2 loss (1)."),
    "synthetic_defects": (
        False,
        ("ganomaly", "skip_ganomaly"),
        "train the generator to restore clean images from copies with synthetic defects.",
    ),
    "segmentation_head": (
        False,
        ("ganomaly", "skip_ganomaly"),
        "train a segmentation head on the synthetic defects' masks (implies `synthetic_defects`).",
    ),
    "ssim_weight": (
        0.0,
        ("ganomaly", "skip_ganomaly"),
        "weight of an SSIM term in the generator's loss (0).",
    ),
    "defect_probability": (
        0.5,
        ("ganomaly", "skip_ganomaly"),
        "the share of training images that get a synthetic defect (0.5).",
    ),
    "head_width": (
        16,
        ("ganomaly", "skip_ganomaly"),
        "channels of the segmentation head's first level (16).",
    ),
    "discriminator_reset_threshold": (
        1e-05,
        ("ganomaly", "skip_ganomaly"),
        "re-initialise the discriminator when its loss falls below this (1e-5); 0 disables it.",
    ),
    "latent_size": (
        100,
        ("ganomaly", "skip_ganomaly", "simultaneous_encoder_gan", "egbad", "anogan"),
        "size of the latent code (100).",
    ),
    "width": (
        64,
        ("ganomaly", "skip_ganomaly", "simultaneous_encoder_gan", "egbad", "anogan"),
        "base channel count of the networks (64).",
    ),
    "score": (
        None,
        ("ganomaly", "skip_ganomaly", "simultaneous_encoder_gan", "egbad", "anogan"),
        'the score: one of the model\'s `paper_scores` (default: the first) or a map term of `ganomaly_keras.scoring.terms` ("residual_max", "residual_topk", "feature_max", "standardized_max", "standardized_sum").',
    ),
    "map_smoothing": (
        3,
        ("ganomaly", "skip_ganomaly", "simultaneous_encoder_gan", "egbad", "anogan"),
        "side of the box filter of the map terms (3).",
    ),
    "latent_weight": (
        1.0,
        ("skip_ganomaly",),
        "weight of the feature (latent) loss (1).",
    ),
    "discriminator_latent_weight": (
        0.0,
        ("skip_ganomaly",),
        "weight of the same feature loss in D's loss (0; 0.5 is the official code's discriminator loss, see above).",
    ),
    "reconstruction_score_weight": (
        0.9,
        ("skip_ganomaly", "egbad"),
        "weight of the reconstruction error in the score (0.9).",
    ),
    "feature_score_weight": (
        0.1,
        ("skip_ganomaly", "egbad"),
        "weight of the feature error in the score (0.1).",
    ),
    "critic_steps": (
        1,
        ("simultaneous_encoder_gan",),
        "critic updates per generator update (1, as the authors' code; WGAN-GP's paper uses 5).",
    ),
    "gradient_penalty_weight": (
        10.0,
        ("simultaneous_encoder_gan",),
        "lambda of the gradient penalty (10).",
    ),
    "drift_weight": (
        0.001,
        ("simultaneous_encoder_gan",),
        "weight of the drift term `mean(C(x)^2)` that keeps the critic's scores near 0 (0.001, the progressive GAN's epsilon_drift).",
    ),
    "latent_norm_weight": (
        0.5,
        ("simultaneous_encoder_gan",),
        'weight of the latent norm in "combined".',
    ),
    "joint_units": (512, ("egbad",), "width of D's latent and joint layers (512)."),
    "discrimination_weight": (0.1, ("anogan",), "lambda of the search loss (0.1)."),
    "search_steps": (
        100,
        ("anogan",),
        "Adam steps of the latent search per image (100).",
    ),
    "search_learning_rate": (0.05, ("anogan",), "learning rate of the search (0.05)."),
}
