"""training/run.py: step budgets, resumption after a kill, tiled folder runs, and
arguments refused before any work."""


import json
import os
import subprocess
import sys
import time

import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.run import train_run
from tests import helpers
from tests.settings import TINY, TINY_FLAGS

pytestmark = pytest.mark.usefixtures("chdir_tmp")


@pytest.mark.slow
def test_killed_training_resumes_where_it_stopped(tmp_path):
    run_dir = tmp_path / "run"
    # 5 epochs: killed after the second is logged (an epoch takes far longer than the
    # 50 ms poll), so the resumed run still has epochs to do.
    argv = [sys.executable, "-m", "ganomaly_keras", "train", *TINY_FLAGS, "--epochs", "5",
            "--no-export", "--run-dir", str(run_dir)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    history_path = run_dir / "history.json"
    deadline = time.time() + 240
    rows = []
    while time.time() < deadline and process.poll() is None:
        if history_path.exists():
            rows = json.loads(history_path.read_text())
            if len(rows) >= 2:
                break
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert 2 <= len(rows) < 5, "training was not interrupted mid-run"
    before = json.loads(history_path.read_text())  # the file as the kill left it

    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads(history_path.read_text())
    assert [row["epoch"] for row in history] == list(range(5))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    resumed = metrics["resumed_at_epoch"]
    # It went on from the last backed-up epoch (the one in progress is redone) ...
    assert resumed is not None and len(before) - 1 <= resumed <= len(before)
    assert f"resuming at epoch {resumed + 1}" in result.stderr
    # ... and the epochs from before the kill keep their logged values.
    assert history[:resumed] == before[:resumed]


def test_a_step_budget_makes_exactly_that_many_updates(tmp_path):
    spec = DataSpec(image_size=16)
    metrics = train_run(str(tmp_path / "run"), spec, TINY, steps=7, validation_every=3,
                        export_formats=(), verbose=0)
    assert metrics["training_steps"] == 7
    with open(tmp_path / "run" / "history.json") as handle:
        assert [row["epoch"] for row in json.load(handle)] == [0, 1, 2]


def test_steps_per_execution_keeps_the_budget_and_the_validation_cadence(tmp_path):
    spec = DataSpec(image_size=16)
    metrics = train_run(str(tmp_path / "run"), spec, TINY, steps=8, validation_every=4,
                        steps_per_execution=2, export_formats=(), verbose=0)
    assert metrics["training_steps"] == 8
    with open(tmp_path / "run" / "history.json") as handle:
        assert [row["epoch"] for row in json.load(handle)] == [0, 1]
    with open(tmp_path / "run" / "config.json") as handle:
        assert json.load(handle)["training"]["steps_per_execution"] == 2
    # Epochs of finite data end with the data, whatever the group size.
    epochs = train_run(str(tmp_path / "epochs"), spec, TINY, epochs=1, batch_size=64,
                       steps_per_execution=4, export_formats=(), verbose=0)
    batches = -(-epochs["data"]["splits"]["train"]["images"] // 64)
    assert batches % 4 != 0  # the last group is cut short by the end of the data
    assert epochs["training_steps"] == batches


@pytest.mark.parametrize("steps,every", [(7, None), (8, 3)])
def test_a_step_budget_that_splits_a_group_of_steps_is_refused(tmp_path, steps, every):
    with pytest.raises(ValueError, match="multiple of steps_per_execution"):
        train_run(str(tmp_path / "run"), DataSpec(image_size=16), TINY, steps=steps,
                  validation_every=every, steps_per_execution=2)
    assert not (tmp_path / "run").exists()


def test_steps_and_epochs_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="epochs or steps, not both"):
        train_run(str(tmp_path / "run"), DataSpec(image_size=16), TINY, epochs=2, steps=4)
    assert not (tmp_path / "run").exists()


def test_a_tiled_folder_run_trains_on_patches_and_reports_pixel_metrics(tmp_path):
    root = helpers.make_inspection_folder(str(tmp_path / "d"))
    metrics = train_run(
        str(tmp_path / "run"),
        DataSpec(source="folder", path=root, image_size=16, working_size=32),
        dict(TINY, score="auto"), steps=3, batch_size=8, export_formats=(), verbose=0,
    )
    assert metrics["training_steps"] == 3
    assert metrics["score"]["name"] in GANomaly(image_size=16, channels=3, **TINY).available_scores
    for split in ("validation", "test"):
        assert metrics[split]["pixel_auroc"] is not None
        assert metrics[split]["aupro"] is not None
    assert "48x48" in metrics["pixel_evaluation"]
    model = __import__("keras").saving.load_model(str(tmp_path / "run" / "model.keras"))
    assert (model.image_size, model.input_size) == (16, 32)

