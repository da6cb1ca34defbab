"""ganomaly_keras/results.py: the store long measurements resume from, and tables."""

import json

import pytest

from ganomaly_keras.results import ResultsStore, markdown_table


def test_a_result_is_measured_once_saved_at_once_and_resumed(tmp_path):
    path = tmp_path / "results.json"
    calls = []
    store = ResultsStore(path, {"steps": 10})
    assert store.measure(("folder", "auroc"), lambda: calls.append(1) or 0.9) == 0.9
    assert json.loads(path.read_text())["results"] == {"folder": {"auroc": 0.9}}
    assert store.measure(("folder", "auroc"), lambda: calls.append(2) or 0.1) == 0.9
    resumed = ResultsStore(path, {"steps": 10})
    assert ("folder", "auroc") in resumed and ("folder", "aupro") not in resumed
    assert resumed.measure(("folder", "auroc"), lambda: calls.append(3)) == 0.9
    assert calls == [1]


def test_results_of_another_setting_are_never_mixed_in(tmp_path, capsys):
    path = tmp_path / "results.json"
    ResultsStore(path, {"steps": 10}).put("a", 1)
    restarted = ResultsStore(path, {"steps": 20})
    assert "a" not in restarted and "starting over" in capsys.readouterr().err
    with pytest.raises(ValueError, match="another setting.*delete it"):
        ResultsStore(path, {"steps": 30}, on_mismatch="refuse")


def test_markdown_tables_have_one_cell_per_column():
    assert markdown_table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |\n"
    with pytest.raises(ValueError, match="1 cells for 2 columns"):
        markdown_table(["a", "b"], [[1]])
