"""training/defaults.py: what `train --folder` uses unless told otherwise."""

from ganomaly_keras.models.options import OPTIONS
from ganomaly_keras.training.defaults import INSPECTION_MODEL_OPTIONS, inspection_model_options


def test_a_folder_run_trains_the_head_on_synthetic_defects_where_the_detector_takes_it():
    assert inspection_model_options("ganomaly") == INSPECTION_MODEL_OPTIONS
    assert inspection_model_options("skip_ganomaly")["segmentation_head"] is True
    # Detectors without restoration training get only what they take.
    assert inspection_model_options("egbad") == {"width": INSPECTION_MODEL_OPTIONS["width"]}
    for detector in ("egbad", "anogan", "simultaneous_encoder_gan"):
        assert all(detector in OPTIONS[k][1] for k in inspection_model_options(detector))


def test_given_options_win_over_the_inspection_defaults():
    options = inspection_model_options("ganomaly", {"width": 64, "segmentation_head": False})
    assert options["width"] == 64 and options["segmentation_head"] is False
    assert options["synthetic_defects"] is True
