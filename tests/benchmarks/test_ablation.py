"""benchmarks/ablation.py: the configurations and the table it writes."""

from benchmarks.ablation import CONFIGURATIONS, ablation_table
from ganomaly_keras.training.defaults import INSPECTION_MODEL_OPTIONS


def _row(auroc, score, by_term):
    return {"auroc": auroc, "pixel_auroc": 0.9, "aupro": 0.8, "score": score,
            "seconds": 60.0, "test_auroc_by_term": by_term}


def test_the_head_configuration_is_the_folder_default_and_the_others_drop_parts_of_it():
    assert CONFIGURATIONS["head"] == INSPECTION_MODEL_OPTIONS
    assert not CONFIGURATIONS["map_terms"].get("synthetic_defects")
    assert CONFIGURATIONS["restoration"]["synthetic_defects"] is True
    assert "segmentation_head" not in CONFIGURATIONS["restoration"]
    assert all(c["width"] == INSPECTION_MODEL_OPTIONS["width"] for c in CONFIGURATIONS.values())


def test_the_table_has_means_term_rows_and_counts_validation_choices_that_were_test_best():
    terms = {"latent_mse": 0.6, "ssim_max": 0.5, "msgms_max": 0.7, "residual_max": 0.9}
    reports = {
        "map_terms": {"results": {
            "a": _row(0.9, "residual_max", terms),
            "b": _row(0.7, "msgms_max", dict(terms, msgms_max=0.7, residual_max=0.95)),
        }},
    }
    text = ablation_table(reports)
    assert "| map_terms | 0.800 | 0.900 | 0.800 | msgms_max, residual_max | 2.0 |" in text
    assert "| paper (latent_mse, same model) | 0.600 |" in text
    assert "| map_terms: b | 0.700 |" in text
    assert "| map_terms | 1 of 2 |" in text
