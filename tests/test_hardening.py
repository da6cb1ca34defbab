"""Bad input refused before any work, unreadable files, kills, locks, safe loading."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from settings import REPO
from settings import TINY_FLAGS as TINY

from ganomaly_keras import GANomaly, arguments
from ganomaly_keras.cli.main import main
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.saving import load_model, replace_directory, save_model_atomically
from ganomaly_keras.training.callbacks import AUROCCallback, StepBudget
from ganomaly_keras.training.lock import RunDirectoryInUse, RunLock
from ganomaly_keras.training.run import train_run


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _status(argv):
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's errors
        return exit.code


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
    (["train", "--working-size", "0"], "positive integer"),
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
    (["train", "--score", "bogus", *TINY], "score must be one of"),
    (["train", "--abnormal-class", "10", *TINY], "10"),
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
]


@pytest.mark.parametrize("argv,message", BAD_COMMANDS, ids=[" ".join(a) for a, _ in BAD_COMMANDS])
def test_bad_arguments_are_one_line_and_write_nothing(argv, message, a_file, tmp_path, capsys):
    argv = [a.format(a_file=a_file) for a in argv]
    before = sorted(os.listdir(tmp_path))
    assert _status(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("ganomaly-keras: error:"), err
    assert message in err[-1], err[-1]
    assert not [line for line in err if "Traceback" in line]
    assert sorted(os.listdir(tmp_path)) == before  # no run directory, no output


BAD_CALLS = [
    (lambda: GANomaly(image_size=16, channels=1, contextual_weight=-1.0), "contextual_weight"),
    (lambda: GANomaly(image_size=16, channels=1, latent_size=0), "latent_size"),
    (lambda: GANomaly(image_size=16, channels=1, discriminator_reset_threshold=float("nan")),
     "discriminator_reset_threshold"),
    (lambda: DataSpec(seed=-3), "seed"),
    (lambda: DataSpec(validation_fraction=1.0), "validation_fraction"),
    (lambda: DataSpec(on_error="ignore"), "on_error"),
    (lambda: DataSpec(channels=4), "channels"),
    (lambda: DataSpec(image_size=48), "power of two"),
    (lambda: train_run("r", DataSpec(), batch_size=0), "batch_size"),
    (lambda: train_run("r", DataSpec(), epochs=0), "epochs"),
    (lambda: train_run("r", DataSpec(), export_formats=("onnx",)), "export format"),
    (lambda: train_run("r", DataSpec(), strategy="tpu"), "strategy"),
    (lambda: train_run("r", DataSpec(), jit_compile="yes"), "jit_compile"),
    (lambda: AUROCCallback(np.zeros((2, 16, 16, 1)), [0, 1], every=0), "every"),
    (lambda: StepBudget(0), "steps"),
    (lambda: arguments.fraction("p", True), "p must be"),
]


@pytest.mark.parametrize("call,name", BAD_CALLS)
def test_bad_python_arguments_name_the_argument(call, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        call()
    assert not os.path.exists(tmp_path / "r")


# ---------------------------------------------------------------- unreadable files


def _calibrated_model(path):
    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    model.calibrate(x, np.array([0, 1] * 4))
    save_model_atomically(model, path)
    return str(path)


def _image_folder(root, n=3, damaged=True):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((20, 20), (37 * i) % 256, np.uint8)).save(root / f"{i}.png")
    if damaged:
        # A real PNG header, its data cut off: TensorFlow's decoder fails on it.
        data = (root / "0.png").read_bytes()
        (root / "broken.png").write_bytes(data[: len(data) // 2])
        (root / "empty.png").write_bytes(b"")
    return root


def test_predict_names_unreadable_files_and_skips_them_when_asked(tmp_path, capsys):
    model = _calibrated_model(tmp_path / "m.keras")
    folder = str(_image_folder(tmp_path / "images"))
    assert _status(["predict", model, folder]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "--skip-unreadable" in err and len(err.strip().splitlines()) == 1

    out = str(tmp_path / "scores.csv")
    assert _status(["predict", model, folder, "--skip-unreadable", "--out", out]) == 0
    rows = {os.path.basename(r["path"]): r for r in csv.DictReader(open(out))}
    assert sorted(rows) == ["0.png", "1.png", "2.png", "broken.png", "empty.png"]
    assert rows["broken.png"]["skipped"] and rows["broken.png"]["anomaly_score"] == ""
    assert rows["empty.png"]["skipped"] and not rows["1.png"]["skipped"]
    assert float(rows["1.png"]["anomaly_score"]) >= 0
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.png" in err and "empty.png" in err
    assert "scored 3 images" in err and "2 skipped" in err


def test_evaluate_skips_unreadable_files_when_asked(tmp_path, capsys):
    model = _calibrated_model(tmp_path / "m.keras")
    root = tmp_path / "data"
    _image_folder(root / "train" / "good", n=6, damaged=False)
    _image_folder(root / "test" / "good", n=4)
    _image_folder(root / "test" / "scratch", n=4, damaged=False)
    data = ["--folder", str(root), "--image-size", "16", "--channels", "1"]
    assert _status(["evaluate", model, *data]) == 2
    assert "--skip-unreadable" in capsys.readouterr().err
    assert _status(["evaluate", model, *data, "--skip-unreadable"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    # The two bad test/good files land in validation or test (a stratified draw).
    skipped = {os.path.basename(s["path"]) for s in report["skipped_files"]}
    assert skipped and skipped <= {"broken.png", "empty.png"}
    assert all(f"skipped {s['path']}" in captured.err for s in report["skipped_files"])


def test_a_damaged_training_file_is_named_and_can_be_skipped(tmp_path, capsys):
    root = tmp_path / "data"
    _image_folder(root / "train" / "good", n=12)
    _image_folder(root / "test" / "good", n=4, damaged=False)
    _image_folder(root / "test" / "scratch", n=4, damaged=False)
    argv = ["train", "--folder", str(root), *TINY, "--channels", "1", "--steps", "2",
            "--batch-size", "4", "--no-export", "--run-dir", str(tmp_path / "run")]
    assert _status(argv) == 2
    err = capsys.readouterr().err
    assert ("broken.png" in err or "empty.png" in err) and "--skip-unreadable" in err
    with pytest.warns(UserWarning, match="broken.png"):
        assert _status(argv + ["--skip-unreadable", "--overwrite"]) == 0


def test_streamed_training_names_a_file_damaged_past_its_header(tmp_path):
    from ganomaly_keras.data.decoding import find_unreadable, image_dataset

    folder = _image_folder(tmp_path / "images", n=5)
    paths = sorted(str(p) for p in folder.iterdir())
    with pytest.raises(tf.errors.InvalidArgumentError):
        for _ in image_dataset(paths, 16, 1, batch_size=2):
            pass
    found = {os.path.basename(u.path): u.reason for u in find_unreadable(paths, 16, 1)}
    assert sorted(found) == ["broken.png", "empty.png"]
    assert "not a PNG" in found["empty.png"] and found["broken.png"]


# ------------------------------------------------------------ kills and locks


_KILLED_EXPORT = """
import os, signal, sys
import numpy as np, keras
import ganomaly_keras.deploy.export as export
import ganomaly_keras.saving as saving
from ganomaly_keras import GANomaly
out, stage = sys.argv[1:]
keras.utils.set_random_seed(0)
model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
x = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
model.calibrate(x, np.array([0, 1] * 4))
saving.save_model_atomically(model, out + ".keras")
export.export_model(model, out, formats=("keras", "saved_model"), validation={"round": 0})


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def after(function):
    def wrapped(*args, **kwargs):
        function(*args, **kwargs)
        die()
    return wrapped


def before(function):
    def wrapped(*args, **kwargs):
        die()
    return wrapped


# The second export is killed at `stage`, from inside the export itself.
if stage == "model_file":  # the .keras file written in full under its temporary name
    saving.os.replace = before(os.replace)
    saving.save_model_atomically(model, out + ".keras")
if stage == "saved_model":  # the staging folder half built
    export.write_saved_model = after(export.write_saved_model)
if stage == "swap":  # the staging folder complete, the swap not yet made
    export.replace_directory = before(export.replace_directory)
export.export_model(model, out, formats=("keras", "saved_model"), validation={"round": 1})
"""


def _check_export_is_whole(out):
    metadata = json.load(open(os.path.join(out, "metadata.json")))
    for entry in metadata["artefacts"].values():
        path = os.path.join(out, entry["file"])
        size = sum(
            os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs
        ) if os.path.isdir(path) else os.path.getsize(path)
        assert size == entry["bytes"], entry
    load_model(os.path.join(out, "model.keras"))
    load_model(out + ".keras")
    return metadata["validation"]["round"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["model_file", "saved_model", "swap"])
def test_sigkill_inside_an_export_leaves_the_previous_export_whole(tmp_path, stage):
    out = str(tmp_path / "export")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    child = subprocess.run([sys.executable, "-c", _KILLED_EXPORT, out, stage], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr  # killed where asked
    assert _check_export_is_whole(out) == 0  # the first export, whole
    leftovers = [e for e in os.listdir(tmp_path) if e.startswith(".")]
    if stage == "model_file":  # the killed save's temporary file, never the model
        assert len(leftovers) == 1 and leftovers[0].startswith(".export.keras.")
        return
    assert leftovers  # the killed export's half-built folder
    # The next export cleans what the killed one left half-built.
    from ganomaly_keras.deploy.export import export_model

    export_model(load_model(out + ".keras"), out, formats=("keras",))
    assert [e for e in os.listdir(tmp_path) if e.startswith(".")] == []


def test_replace_directory_swaps_atomically(tmp_path):
    old, new = tmp_path / "target", tmp_path / "staging"
    old.mkdir()
    (old / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    replace_directory(str(new), str(old))
    assert (old / "a").read_text() == "new" and not new.exists()
    # An interrupted fallback swap (old folder set aside, new not yet in) is undone.
    aside = tmp_path / ".target.old"
    os.replace(old, aside)
    staging = tmp_path / "s2"
    staging.mkdir()
    (staging / "a").write_text("newer")
    replace_directory(str(staging), str(old))
    assert (old / "a").read_text() == "newer" and not aside.exists()


@pytest.mark.slow
def test_a_run_directory_is_locked_while_in_use_and_freed_by_death(tmp_path):
    run_dir = str(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys, time
            sys.path.insert(0, sys.argv[2])
            from ganomaly_keras.training.lock import RunLock
            with RunLock(sys.argv[1]):
                print("locked", flush=True)
                time.sleep(600)
        """), run_dir, REPO],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunDirectoryInUse, match=f"process {holder.pid}"):
        with RunLock(run_dir):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunLock(run_dir):  # the dead process holds nothing
        pass


# ------------------------------------------------------------------ safe loading


def test_models_with_code_are_refused(tmp_path, capsys):
    unsafe = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    path = str(tmp_path / "unsafe.keras")
    unsafe.save(path)
    with pytest.raises(ValueError, match="holds Python code"):
        load_model(path)
    assert _status(["evaluate", path]) == 2
    assert "holds Python code" in capsys.readouterr().err


# ------------------------------------------------------------------ determinism


_TWICE = """
import json, sys
import numpy as np
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.run import train_run
from ganomaly_keras.saving import load_model
results = []
for name in ("a", "b"):
    metrics = train_run(
        sys.argv[1] + "/" + name, DataSpec(image_size=16, seed=3),
        {"width": 8, "latent_size": 8}, epochs=1, export_formats=(), verbose=0,
        deterministic=True,
    )
    model = load_model(sys.argv[1] + "/" + name + "/model.keras")
    results.append(([w.numpy() for w in model.weights], metrics["test"]["auroc"]))
(wa, auroc_a), (wb, auroc_b) = results
print(json.dumps({
    "identical_weights": all(np.array_equal(x, y) for x, y in zip(wa, wb)),
    "aurocs": [auroc_a, auroc_b],
}))
"""


@pytest.mark.slow
def test_deterministic_runs_are_bit_identical(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-c", _TWICE, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["identical_weights"]
    assert report["aurocs"][0] == report["aurocs"][1]
    config = json.load(open(tmp_path / "a" / "config.json"))
    assert config["training"]["deterministic"] is True


# --------------------------------------------------------------- edge metadata


GOOD_METADATA = {
    "schema_version": 1,
    "input": {"name": "images", "dtype": "uint8", "image_size": 32, "channels": 1,
              "layout": "NHWC"},
    "threshold": 0.5,
    "scaling": {"score_min": 0.0, "score_max": 1.0},
    "artefacts": {},
}


@pytest.mark.parametrize("change,field", [
    ({"schema_version": 2}, "schema_version"),
    ({"input": {**GOOD_METADATA["input"], "image_size": 30}}, "input.image_size"),
    ({"input": {**GOOD_METADATA["input"], "image_size": "32"}}, "input.image_size"),
    ({"input": {**GOOD_METADATA["input"], "channels": 2}}, "input.channels"),
    ({"input": {**GOOD_METADATA["input"], "dtype": "float32"}}, "input.dtype"),
    ({"input": {**GOOD_METADATA["input"], "layout": "NCHW"}}, "input.layout"),
    ({"threshold": None}, "threshold"),
    ({"scaling": {"score_min": 0.0}}, "scaling"),
    ({"artefacts": []}, "artefacts"),
])
def test_the_edge_runner_refuses_bad_metadata_before_running(change, field, tmp_path, capsys):
    from ganomaly_keras import edge
    from ganomaly_keras.deploy.metadata import ExportMetadata, MetadataError

    ExportMetadata.from_dict(dict(GOOD_METADATA))
    with pytest.raises(MetadataError, match=field):
        ExportMetadata.from_dict({**GOOD_METADATA, **change})
    model = tmp_path / "model_float32.tflite"
    model.write_bytes(b"never read")
    (tmp_path / "metadata.json").write_text(json.dumps({**GOOD_METADATA, **change}))
    assert edge.main([str(model), str(tmp_path)]) == 2
    assert field in capsys.readouterr().err
