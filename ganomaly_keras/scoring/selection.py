"""Choosing a run's score on validation data only (`score="auto"`).

Every score term of the model is scored on the validation split at the selected
epoch. A validation split of an inspection folder may hold ten defective images, and
then an AUROC is only known to within a few points: its standard error (Hanley &
McNeil, 1982) is 0.08 at AUROC 0.85 with 10 anomalous and 28 normal images. So
the choice is the first term in `AUTO_PREFERENCE` order whose validation AUROC lies
within one standard error of the best one: another term replaces the preferred one
only on evidence the split can give, not on one image's rank. The order puts the map
terms first (they see small defects and give the map), then the gradient and head
terms, then the paper's own scores, and the SSIM term last. Test labels never reach
this module.
"""

import math

import numpy as np

from ganomaly_keras.metrics.evaluation import ranking_metrics

AUTO_SCORE = "auto"
AUTO_PREFERENCE = (
    "residual_max", "feature_max", "standardized_max", "segmentation_max", "msgms_max",
    "residual_topk", "standardized_sum", "segmentation_topk",
)
# After the paper's scores: `ssim_max` measured near chance on test wherever it was
# measured (KolektorSDD 0.49, PIPED 0.50-0.67), even where it tied for the best on a
# small validation split.
LAST_RESORT = ("ssim_max",)


def auroc_standard_error(auroc, positives, negatives):
    """The standard error of an AUROC measured on `positives` anomalous and
    `negatives` normal images (Hanley & McNeil, 1982)."""
    if positives < 1 or negatives < 1:
        raise ValueError("an AUROC needs at least one anomalous and one normal image.")
    q1 = auroc / (2 - auroc)
    q2 = 2 * auroc * auroc / (1 + auroc)
    variance = (
        auroc * (1 - auroc)
        + (positives - 1) * (q1 - auroc * auroc)
        + (negatives - 1) * (q2 - auroc * auroc)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def choose_score(aurocs, paper_scores, positives=None, negatives=None):
    """The first term, in preference order, within one standard error of the best
    validation AUROC.

    The order is `AUTO_PREFERENCE`, then `paper_scores`, then `LAST_RESORT`, then
    any other term. Without the counts of anomalous and normal validation images,
    only exact ties (within 1e-9) go to the preferred term. Only validation figures
    may be passed here.

    Args:
        aurocs: dict of term -> validation AUROC.
        paper_scores: the model's paper terms.
        positives, negatives: the anomalous and normal validation images.

    Returns:
        the chosen term's name.
    """
    known = AUTO_PREFERENCE + tuple(paper_scores) + LAST_RESORT
    order = [t for t in known if t in aurocs] + [t for t in aurocs if t not in known]
    best = max(aurocs[t] for t in order)
    margin = 1e-9
    if positives is not None and negatives is not None:
        margin += auroc_standard_error(best, positives, negatives)
    return next(t for t in order if aurocs[t] >= best - margin)


def select_score(model, validation, auto, labelled):
    """The model scoring with its chosen term, and how it was chosen.

    Args:
        model: a detector whose normal statistics are fitted.
        validation: the validation split (`images`, `labels`).
        auto: whether the run asked for `score="auto"`.
        labelled: whether validation holds both normal and anomalous images.

    Returns:
        `(model, choice)`: the model (a copy when another term won) and a JSON-able
        dict "name", "selected_by", "definition" (and the AUROC of every term).
    """
    choice = {"name": model.score, "selected_by": "given"}
    if auto and labelled:
        aurocs = {
            name: ranking_metrics(values, validation.labels)["auroc"]
            for name, values in model.predict_terms(validation.images).items()
        }
        positives = int(np.sum(validation.labels))
        chosen = choose_score(
            aurocs, model.paper_scores, positives, len(validation.labels) - positives
        )
        model = model.with_score(chosen)
        choice = {
            "name": chosen,
            "selected_by": "validation AUROC within one standard error (score=auto)",
            "validation_auroc_by_term": aurocs,
        }
    elif auto:
        choice["selected_by"] = "default: validation has no anomalies for score=auto"
    choice["definition"] = model.score_definition
    return model, choice
