"""benchmarks/measurement.py: resumable measurements per machine, alternation and
interleaving of candidates, and warmed-up worker processes."""


import os

import pytest

from benchmarks import measurement
from benchmarks.measurement import (
    BlockWorker,
    alternate,
    interleave,
    machine_results,
    ratios,
)
from tests.settings import TESTS


class _FakeWorker:
    def __init__(self, candidate, log):
        self.candidate, self.log = candidate, log

    def run_block(self):
        self.log.append(self.candidate)
        return {"images_per_s": len(self.log)}

    def close(self):
        self.log.append(f"close {self.candidate}")


def _test_worker(monkeypatch, **options):
    here = TESTS
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    return BlockWorker("block_worker_task", options, timeout=60)


def test_results_file_measures_once_and_resumes(tmp_path):
    path = str(tmp_path / "results.json")
    calls = []
    first = machine_results(path)
    assert first.measure("a", lambda: calls.append("a") or 1) == 1
    assert first.measure("a", lambda: calls.append("again") or 2) == 1
    resumed = machine_results(path)
    assert resumed.measure("a", lambda: calls.append("resumed") or 3) == 1
    assert calls == ["a"]


def test_results_from_another_machine_are_not_mixed_in(tmp_path, monkeypatch):
    path = str(tmp_path / "results.json")
    machine_results(path).measure("a", lambda: 1)
    monkeypatch.setattr(measurement, "speed_flags", lambda: ["a_different_cpu"])
    assert machine_results(path).measure("a", lambda: 2) == 2


def test_alternation_runs_candidates_in_turn_and_resumes_after_an_interruption(tmp_path):
    path = str(tmp_path / "results.json")
    order = []

    def measure(candidate):
        if len(order) == 3:
            raise KeyboardInterrupt  # the machine goes away mid-benchmark
        order.append(candidate)
        return {"images_per_s": {"a": 200.0, "b": 100.0}[candidate] * len(order)}

    with pytest.raises(KeyboardInterrupt):
        alternate(machine_results(path), "speed", ["a", "b"], 2, measure)
    assert order == ["a", "b", "a"]
    order.append("resumed")  # from here the measure function succeeds again
    rounds = alternate(machine_results(path), "speed", ["a", "b"], 2, lambda c: {"images_per_s": 50.0})
    assert order == ["a", "b", "a", "resumed"]  # only round 1's b was measured again
    assert [r["a"]["images_per_s"] for r in rounds] == [200.0, 600.0]
    assert [r["b"]["images_per_s"] for r in rounds] == [200.0, 50.0]
    result = ratios(rounds, "a", "b", lambda row: row["images_per_s"])
    assert result == {"per_round": [1.0, 12.0], "median": 6.5}


def test_interleave_reverses_the_order_every_other_round_and_resumes(tmp_path):
    path = str(tmp_path / "results.json")
    log = []
    rounds = interleave(machine_results(path), "t", ["a", "b", "c"], 3,
                        lambda candidate: _FakeWorker(candidate, log))
    assert log[:9] == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert sorted(log[9:]) == ["close a", "close b", "close c"]
    assert [r["b"]["images_per_s"] for r in rounds] == [2, 5, 8]
    # A rerun with one more round starts workers again for that round only.
    log.clear()
    again = interleave(machine_results(path), "t", ["a", "b", "c"], 4,
                       lambda candidate: _FakeWorker(candidate, log))
    assert log[:3] == ["c", "b", "a"]
    assert again[:3] == rounds
    log.clear()
    interleave(machine_results(path), "t", ["a", "b", "c"], 4,
               lambda candidate: pytest.fail("nothing is missing: no worker starts"))


def test_block_worker_keeps_its_process_between_blocks(monkeypatch):
    worker = _test_worker(monkeypatch, name="w")
    try:
        # The same process counts on; stdout chatter is not taken for a reply.
        assert [worker.run_block() for _ in range(3)] == [
            {"blocks": n, "name": "w"} for n in (1, 2, 3)
        ]
    finally:
        worker.close()
    assert worker._process.returncode == 0


def test_block_worker_reports_a_dead_worker_with_its_error(monkeypatch):
    worker = _test_worker(monkeypatch, name="w", fail_after=1)
    try:
        worker.run_block()
        with pytest.raises(RuntimeError, match="fails on purpose"):
            worker.run_block()
    finally:
        worker.close()

