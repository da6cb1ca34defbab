"""Measuring on the machine at hand: one measurement per fresh child process, side by
side in alternation, saved after every measurement so that a rerun resumes.

Speed figures from two machines cannot be compared, and on a shared 2-core machine one
process can run at a different speed from the next. So every benchmark here measures
its candidates alternately (A B A B ...), each in a fresh child process of the same
process tree, reports the ratio within each pair and its median, and labels every
absolute figure with the CPU flags it came from. Used by `ganomaly_keras.benchmark` and
`ganomaly_keras.folder_benchmark`.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from ganomaly_keras.precision import cpu_flags

# The CPU flags that decide which precision and kernels are fastest.
SPEED_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")


def speed_flags():
    """The speed-relevant CPU flags of this machine, sorted (see `SPEED_CPU_FLAGS`)."""
    return sorted(cpu_flags() & set(SPEED_CPU_FLAGS))


def measure_in_child(module, arguments, timeout=3600):
    """Run `python -m module json(arguments)` in a fresh process; return the JSON
    object its last stdout line holds.

    Args:
        module: a module whose `__main__` reads one JSON argument and prints one JSON
            line (`ganomaly_keras.benchmark`, `ganomaly_keras.torch_comparator`, ...).
        arguments: a JSON-able dict.
        timeout: seconds before the child is killed.

    Returns:
        the child's JSON result.

    Raises:
        RuntimeError: the child failed; the message holds the end of its stderr.
    """
    from ganomaly_keras.backend import SETTINGS

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # The package's TensorFlow settings reach the child before it imports TensorFlow
    # (a variable set by the user still wins).
    env = {**SETTINGS, **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", module, json.dumps(arguments)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"the measurement `{module} {json.dumps(arguments)}` failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-800:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


class ResultsFile:
    """A JSON file of measurements, written atomically after each one.

    A rerun on the same machine (same speed CPU flags and CPU count) resumes: a
    measurement already in the file is not taken again. A file written on another
    machine is started over, never mixed with this one's figures.

    Args:
        path: the JSON file.
    """

    def __init__(self, path):
        self.path = path
        machine = {"cpu_flags": speed_flags(), "cpus": os.cpu_count()}
        self.data = {"machine": machine, "measurements": {}}
        if os.path.exists(path):
            with open(path) as handle:
                previous = json.load(handle)
            if previous.get("machine") == machine:
                self.data = previous
            else:
                print(f"{path} was measured on another machine "
                      f"({previous.get('machine')}): starting over.", file=sys.stderr)

    @property
    def measurements(self):
        return self.data["measurements"]

    def measure(self, key, function):
        """The measurement stored under `key`, taken by `function()` if absent.

        Args:
            key: a string naming the measurement and every setting it depends on.
            function: takes the measurement; returns a JSON-able value.

        Returns:
            the stored or new value.
        """
        if key not in self.measurements:
            print(f"measuring {key}", file=sys.stderr, flush=True)
            self.measurements[key] = function()
            self.save()
        return self.measurements[key]

    def save(self):
        from ganomaly_keras.saving import write_json_atomically

        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        write_json_atomically(self.path, self.data)


def alternate(results, prefix, candidates, pairs, measure):
    """Measure every candidate once per round, in order, for `pairs` rounds.

    Args:
        results: a `ResultsFile`.
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


def latency_ms(runtime, images, batch_size=1, repeats=50, warmup=5):
    """Median milliseconds per image when `runtime.run` scores batches of `batch_size`."""
    batch = np.asarray(images[:batch_size])
    if len(batch) < batch_size:
        batch = np.resize(batch, (batch_size,) + batch.shape[1:])
    for _ in range(warmup):
        runtime.run(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runtime.run(batch)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times)) / batch_size


def batch_latencies(runtime, pixels, repeats=30):
    """`{"batch1_ms", "batch64_ms"}`: ms per image at batch 1 and batch 64."""
    return {
        "batch1_ms": latency_ms(runtime, pixels, 1, repeats),
        "batch64_ms": latency_ms(runtime, pixels, 64, max(3, repeats // 10)),
    }
