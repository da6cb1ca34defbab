"""Choosing a run's score on validation data only (`score="auto"`).

Every score term of the model is scored on the validation split at the selected
epoch; the one with the best AUROC wins, ties broken in `AUTO_PREFERENCE` order (map
terms see small defects; then the standardised combinations; then the paper's own).
Test labels never reach this module.
"""

from ganomaly_keras.metrics.evaluation import ranking_metrics

AUTO_SCORE = "auto"
AUTO_PREFERENCE = (
    "residual_max", "feature_max", "residual_topk", "standardized_sum", "standardized_max",
)


def choose_score(aurocs, paper_scores):
    """The score term with the highest validation AUROC.

    Ties (within 1e-9) go to the earliest of `AUTO_PREFERENCE`, then of
    `paper_scores`. Only validation figures may be passed here.

    Args:
        aurocs: dict of term -> validation AUROC.
        paper_scores: the model's paper terms.

    Returns:
        the chosen term's name.
    """
    order = [t for t in AUTO_PREFERENCE + tuple(paper_scores) if t in aurocs]
    best = max(aurocs[t] for t in order)
    return next(t for t in order if aurocs[t] >= best - 1e-9)


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
        chosen = choose_score(aurocs, model.paper_scores)
        model = model.with_score(chosen)
        choice = {
            "name": chosen, "selected_by": "validation AUROC (score=auto)",
            "validation_auroc_by_term": aurocs,
        }
    elif auto:
        choice["selected_by"] = "default: validation has no anomalies for score=auto"
    choice["definition"] = model.score_definition
    return model, choice
