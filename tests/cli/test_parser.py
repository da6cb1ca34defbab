"""The command line's options: bad arguments end in one line and write nothing, every
constructor option is a flag of its default's type, flags are refused by name for a
detector that does not take them."""


import os

import pytest

from ganomaly_keras.cli.main import main
from ganomaly_keras.cli.parser import build_parser
from ganomaly_keras.models.base import constructor_parameters
from ganomaly_keras.models.registry import (
    DETECTORS,
    SET_BY_RUN,
    all_options,
    model_options,
)
from tests import helpers
from tests.settings import TINY_FLAGS

pytestmark = pytest.mark.usefixtures("chdir_tmp")


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file.txt"
    path.write_text("not a folder")
    return str(path)


BAD_COMMANDS = [
    (["train", "--epochs", "0"], "positive integer"),
    (["train", "--epochs", "-1"], "positive integer"),
    (["train", "--epochs", "1.5"], "positive integer"),
    (["train", "--batch-size", "0"], "positive integer"),
    (["train", "--steps", "0"], "positive integer"),
    (["train", "--validation-every", "0"], "positive integer"),
    (["train", "--epochs", "2", "--steps", "3"], "not both"),
    (["train", "--seed", "-1"], "integer in [0, 4294967295]"),
    (["train", "--validation-fraction", "1.5"], "in [0, 1)"),
    (["train", "--validation-fraction", "nan"], "in [0, 1)"),
    (["train", "--contamination", "-0.1"], "in [0, 1)"),
    (["train", "--contamination", "1"], "in [0, 1)"),
    (["train", "--image-size", "30"], "power of two"),
    (["train", "--image-size", "8"], "power of two"),
    (["train", "--working-size", "0"], "is not a working size"),
    (["train", "--working-size", "40"], "working_size"),
    (["train", "--width", "0"], "positive integer"),
    (["train", "--latent-size", "0"], "positive integer"),
    (["train", "--extra-layers", "-1"], "non-negative integer"),
    (["train", "--contextual-weight", "-1"], "in [0, inf)"),
    (["train", "--adversarial-weight", "nan"], "in [0, inf)"),
    (["train", "--encoder-weight", "inf"], "in [0, inf)"),
    (["train", "--map-smoothing", "0"], "positive integer"),
    (["train", "--model", "simultaneous_encoder_gan", "--critic-steps", "0"], "positive integer"),
    (["train", "--model", "anogan", "--search-steps", "0"], "positive integer"),
    (["train", "--model", "skip_ganomaly", "--encoder-weight", "1"], "does not apply"),
    (["train", "--model", "bogus"], "invalid choice"),
    (["train", "--channels", "2"], "invalid choice"),
    (["train", "--score", "bogus", *TINY_FLAGS], "score must be one of"),
    (["train", "--abnormal-class", "10", *TINY_FLAGS], "10"),
    (["train", "--npz", "/no/such/file.npz"], "does not exist"),
    (["train", "--run-dir", "{a_file}"], "is a file"),
    (["evaluate", "/no/model.keras"], "no model at"),
    (["evaluate", "{a_file}"], "not a .keras model"),
    (["evaluate", "x.keras", "--split", "train"], "invalid choice"),
    (["export", "/no/model.keras", "out"], "no model at"),
    (["export", "x.keras", "{a_file}"], "is a file"),
    (["export", "x.keras", "out", "--formats", "onnx"], "invalid choice"),
    (["predict", "x.keras", "/no/images"], "does not exist"),
    (["predict", "x.keras", ".", "--out", "/no/folder/s.csv"], "does not exist"),
    (["predict", "x.keras", ".", "--out", "."], "is a folder"),
    (["benchmark", "--steps", "0"], "positive integer"),
    (["benchmark", "--digits", "11"], "integer in [0, 9]"),
    (["benchmark", "--epochs", "0"], "positive integer"),
    (["benchmark", "quality", "--folder-suite", "/no/suite"], "does not exist"),
    (["benchmark", "quality"], "needs --folder-suite"),
    (["benchmark", "quality", "--folder-suite", ".", "--model", "egbad", "--ssim-weight", "1"],
     "--ssim-weight does not apply to --model egbad"),
    (["benchmark", "quality", "--folder-suite", ".", "--width", "0"], "positive integer"),
]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--npz", "/no/such/file.npz"], "does not exist"),
        (["train", "--folder", "/no/such/folder"], "does not exist"),
        (["train", "--image-size", "20"], "power of two"),
        (["train", "--contamination", "0.5", "--normal-class", "1"], "one-class"),
        (["predict", "/no/model.keras", "."], "no model at"),
    ],
)
def test_bad_arguments_end_with_one_line_and_status_2(argv, message, capsys):
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_unknown_tfds_dataset_is_one_line(tmp_path, capsys):
    argv = ["train", "--tfds", "no_such_dataset_xyz", "--tfds-data-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "no dataset named 'no_such_dataset_xyz'" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", BAD_COMMANDS, ids=[" ".join(a) for a, _ in BAD_COMMANDS])
def test_bad_arguments_are_one_line_and_write_nothing(argv, message, a_file, tmp_path, capsys):
    argv = [a.format(a_file=a_file) for a in argv]
    before = sorted(os.listdir(tmp_path))
    assert helpers.status(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("ganomaly-keras: error:"), err
    assert message in err[-1], err[-1]
    assert not [line for line in err if "Traceback" in line]
    assert sorted(os.listdir(tmp_path)) == before  # no run directory, no output


def test_every_constructor_option_is_a_train_flag_with_its_default_type():
    parser = build_parser()
    train = next(
        action.choices["train"] for action in parser._actions if getattr(action, "choices", None)
        and "train" in action.choices
    )
    flags = {a.dest: a for a in train._actions}
    for name, cls in DETECTORS.items():
        parameters = constructor_parameters(cls)
        assert set(model_options(name)) == set(parameters) - set(SET_BY_RUN)
        for option in model_options(name):
            assert option in flags, (name, option)
            assert flags[option].help, option  # documented in the constructor's Args
    assert set(all_options()["encoder_weight"][2]) == {"ganomaly"}
    args = parser.parse_args(["train", "--critic-steps", "3", "--model", "simultaneous_encoder_gan"])
    assert args.critic_steps == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--critic-steps", "0"])
    # Boolean options read true or false, not any non-empty string as true.
    assert parser.parse_args(["train", "--segmentation-head", "true"]).segmentation_head is True
    assert parser.parse_args(["train", "--synthetic-defects", "no"]).synthetic_defects is False
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--synthetic-defects", "maybe"])


def test_a_flag_for_another_detector_is_refused_by_name(capsys, tmp_path):
    assert helpers.status(["train", "--model", "egbad", "--encoder-weight", "2",
                           "--run-dir", str(tmp_path / "r")]) == 2
    assert "--encoder-weight does not apply to --model egbad" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()



def test_help_and_argument_errors_load_no_tensorflow():
    """`--help` and every argument check answer before TensorFlow loads, so they
    answer at once."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ganomaly_keras.cli.main import main\n"
        "for argv in (['--help'], ['train', '--help'], ['train', '--image-size', '33'],\n"
        "             ['train', '--folder', '/'], ['train', '--model', 'egbad', '--encoder-weight', '2'],\n"
        "             ['train', '--working-size', '40']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("ganomaly-keras: error:") == 4


def test_the_options_table_equals_the_constructors():
    """The command line reads the options from a table (no TensorFlow); it must say
    what the constructors say: every option, its default, its detectors, its help."""
    from ganomaly_keras.models.options import DETECTOR_NAMES, OPTIONS
    from ganomaly_keras.models.registry import DETECTORS, all_options

    assert DETECTOR_NAMES == tuple(DETECTORS)
    written = {name: (d, tuple(dets), text) for name, (d, text, dets) in all_options().items()}
    assert OPTIONS == written
