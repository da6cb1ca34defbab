"""Measuring on the machine at hand, side by side in alternation, saved after every
measurement so that a rerun resumes.

Speed figures from two machines cannot be compared, and on a shared virtual machine the
speed of the CPU itself drifts from second to second (on a 2-core AMD EPYC VM one
worker process's identical 10-step training blocks ranged from 188 to 281 images/s).
So every benchmark here measures its candidates
alternately (A B A B ...), reports the ratio within each round and its median, and
labels every absolute figure with the CPU flags it came from. Two ways:

- `alternate`: each measurement in a fresh child process (`measure_in_child`); for
  measurements that include start-up, or are too short to drift.
- `interleave`: one warmed-up child process per candidate (`BlockWorker`), kept alive,
  each asked in turn for a short timed block, the order reversed every other round
  (A B, B A, ...). Candidates a few seconds apart see the same machine speed, so
  their ratio holds still while the absolute figures drift.

Used by `benchmarks.speed` and `benchmarks.folder_streaming`.
"""

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ganomaly_keras.results import ResultsStore
from ganomaly_keras.training.precision import cpu_flags

# The CPU flags that decide which precision and kernels are fastest.
SPEED_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")


def speed_flags():
    """The speed-relevant CPU flags of this machine, sorted (see `SPEED_CPU_FLAGS`)."""
    return sorted(cpu_flags() & set(SPEED_CPU_FLAGS))


def _child_environment():
    """The environment of a measuring child: the package's TensorFlow settings before
    it imports TensorFlow (a variable set by the user still wins), quiet TensorFlow,
    and this package importable."""
    from ganomaly_keras.backend import SETTINGS

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**SETTINGS, **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    return env


def measure_in_child(module, arguments, timeout=3600, environment=None):
    """Run `python -m module json(arguments)` in a fresh process; return the JSON
    object its last stdout line holds.

    Args:
        module: a module whose `__main__` reads one JSON argument and prints one JSON
            line (`benchmarks.speed`, `benchmarks.torch_comparator`, ...).
        arguments: a JSON-able dict.
        timeout: seconds before the child is killed.
        environment: the child's whole environment; default: the package's TensorFlow
            settings over this process's environment (`_child_environment`).

    Returns:
        the child's JSON result.

    Raises:
        RuntimeError: the child failed; the message holds the end of its stderr.
    """
    command = [sys.executable, "-m", module, json.dumps(arguments)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout,
        env=_child_environment() if environment is None else environment,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"the measurement `{module} {json.dumps(arguments)}` failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-800:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine_results(path):
    """The `ResultsStore` of speed measurements at `path`, for this machine.

    A rerun on the same machine (same speed CPU flags and CPU count) resumes: a
    measurement already in the file is not taken again. A file written on another
    machine is started over, never mixed with this one's figures.
    """
    return ResultsStore(
        path, {"cpu_flags": speed_flags(), "cpus": os.cpu_count()}, announce=True
    )


def alternate(results, prefix, candidates, pairs, measure):
    """Measure every candidate once per round, in order, for `pairs` rounds.

    Args:
        results: a `ResultsStore` (`machine_results`).
        prefix: the key prefix naming the measurement and its settings.
        candidates: names, measured in this order within each round.
        pairs: rounds.
        measure: `measure(candidate)` takes one measurement.

    Returns:
        a list of rounds, each a dict from candidate to its measurement.
    """
    return [
        {
            candidate: results.measure(
                f"{prefix}/round{index}/{candidate}", lambda candidate=candidate: measure(candidate)
            )
            for candidate in candidates
        }
        for index in range(pairs)
    ]


# What a block worker writes before each JSON reply, so that anything else a library
# prints on stdout is never taken for one.
_REPLY = "BLOCK-REPLY "


def serve_blocks(run_block):
    """The worker side of `BlockWorker`: reply "ready", then run one block per "run"
    line on stdin and reply with its JSON result, until stdin closes or says "exit".

    Args:
        run_block: takes no argument, runs one timed block, returns a JSON-able dict.
    """
    print(_REPLY + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(_REPLY + json.dumps(run_block()), flush=True)


class BlockWorker:
    """A child process that stays alive and runs one timed block per request.

    The child runs `python -m module json(arguments)`; that module's `__main__` must
    call `serve_blocks` for such a request (see `benchmarks.speed`). It warms
    up (builds, traces, runs an untimed block) before it says it is ready.

    Args:
        module: the module to run.
        arguments: a JSON-able dict for it.
        timeout: seconds to wait for any one reply.
    """

    def __init__(self, module, arguments, timeout=1800):
        self.description = f"{module} {json.dumps(arguments)}"
        self.timeout = timeout
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, json.dumps(arguments)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            env=_child_environment(),
        )
        # A thread reads the child's stdout line by line, so that a reply is waited
        # for with a timeout and never sits unseen in a read buffer.
        self._lines = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()
        self._reply()

    def _read_lines(self):
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # the child closed its stdout: it has ended

    def _reply(self):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise RuntimeError(f"the worker `{self.description}` gave no reply "
                                   f"within {self.timeout} s") from None
            if line is None:
                self._process.wait()
                self._stderr.seek(0)
                raise RuntimeError(
                    f"the worker `{self.description}` stopped (exit "
                    f"{self._process.returncode}): {self._stderr.read().strip()[-800:]}"
                )
            if line.startswith(_REPLY):
                return json.loads(line[len(_REPLY):])

    def run_block(self):
        """Run one block in the child; return its JSON result."""
        self._process.stdin.write("run\n")
        self._process.stdin.flush()
        return self._reply()

    def close(self):
        """Ask the child to exit, and make sure it does."""
        try:
            self._process.stdin.write("exit\n")
            self._process.stdin.close()
            self._process.wait(timeout=30)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            # A dead child's pipe is broken (or already closed); a stuck one is killed.
            self._process.kill()
            self._process.wait()
        self._stderr.close()


def median_of_blocks(run_block, blocks):
    """One process's steady-state figure: `blocks` timed blocks of `run_block` (an
    already warmed-up block function, as `serve_blocks` takes), and the first block's
    result with "images_per_s" replaced by the median over all of them."""
    rows = [run_block() for _ in range(blocks)]
    return dict(rows[0], images_per_s=float(np.median([r["images_per_s"] for r in rows])))


def interleave(results, prefix, candidates, rounds, start_worker):
    """Timed blocks of warmed-up workers, one per candidate, in turn: the candidates in
    order in even rounds and in reverse order in odd ones (A B, B A, ...), so that a
    steady drift of the machine's speed favours none of them.

    Each block is saved when it ends; a rerun starts workers only if some round is
    missing, and measures only what is missing.

    Args:
        results: a `ResultsStore` (`machine_results`).
        prefix: the key prefix naming the measurement and its settings.
        candidates: names.
        rounds: how many blocks of each candidate.
        start_worker: `start_worker(candidate)` returns a started `BlockWorker`.

    Returns:
        a list of rounds, each a dict from candidate to its block's result, like
        `alternate`'s.
    """
    key = lambda index, candidate: f"{prefix}/round{index}/{candidate}"  # noqa: E731
    missing = [
        (index, candidate)
        for index in range(rounds)
        for candidate in (candidates if index % 2 == 0 else candidates[::-1])
        if key(index, candidate) not in results
    ]
    if missing:
        workers = {}
        try:
            for candidate in dict.fromkeys(c for _, c in missing):
                print(f"starting the worker of {prefix}/{candidate}", file=sys.stderr, flush=True)
                workers[candidate] = start_worker(candidate)
            for index, candidate in missing:
                results.measure(key(index, candidate), workers[candidate].run_block)
        finally:
            for worker in workers.values():
                worker.close()
    return [
        {candidate: results.get(key(index, candidate)) for candidate in candidates}
        for index in range(rounds)
    ]


def ratios(rounds, numerator, denominator, value):
    """`value(numerator) / value(denominator)` within each round, and their median.

    Returns:
        `{"per_round": [...], "median": m}`, rounded to 3 decimals.
    """
    per_round = [value(r[numerator]) / value(r[denominator]) for r in rounds]
    return {
        "per_round": [round(x, 3) for x in per_round],
        "median": round(statistics.median(per_round), 3) if per_round else None,
    }


def batch_latencies(runtime, pixels, repeats=30):
    """`{"batch1_ms", "batch64_ms"}`: ms per image at batch 1 and batch 64."""
    from ganomaly_keras.deploy.runtimes import latency_ms

    return {
        "batch1_ms": latency_ms(runtime, pixels, 1, repeats),
        "batch64_ms": latency_ms(runtime, pixels, 64, max(3, repeats // 10)),
    }
