"""How a training run executes: on which devices and processes, and how repeatably.

- `make_strategy(name)`: "default" (one device), "mirrored" (every local GPU, or the
  CPU: `tf.distribute.MirroredStrategy`) or "multi_worker" (several processes or
  machines described by the `TF_CONFIG` environment variable:
  `tf.distribute.MultiWorkerMirroredStrategy`). Build and compile the model inside
  `strategy.scope()`; `fit` then splits each global batch across the replicas and
  sums the gradients, and with `sync_batchnorm=True` the result equals one process
  training on the global batch.
- `enable_determinism(seed)`: bit-identical weights and scores for the same seed,
  data and machine (`keras.utils.set_random_seed` and TensorFlow's op determinism).
"""

import json
import os

import keras
import tensorflow as tf

from ganomaly_keras import arguments

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name="default"):
    """A `tf.distribute.Strategy` by name (see the module docstring).

    Args:
        name: "default", "mirrored" or "multi_worker". "multi_worker" reads the
            cluster from `TF_CONFIG` and must be created before any other
            TensorFlow operation runs in the process.

    Returns:
        the strategy.

    Raises:
        ValueError: for an unknown name, or "multi_worker" without a valid
            `TF_CONFIG`.
    """
    arguments.choice("strategy", name, STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    cluster = cluster_config()
    if cluster is None:
        raise ValueError(
            "strategy multi_worker needs TF_CONFIG, the JSON that names every worker "
            'and this process\'s task, e.g. {"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}}.'
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def cluster_config():
    """The parsed `TF_CONFIG`, or None when it is not set.

    Raises:
        ValueError: when it is set but not a cluster description.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG is not a cluster description ({error!r}); it needs "
            '"cluster": {"worker": [...]} and "task": {"type": ..., "index": ...}.'
        ) from None
    if task_type == "worker" and not 0 <= index < len(workers):
        raise ValueError(
            f"TF_CONFIG's task index {index} is outside its {len(workers)} workers."
        )
    return config


def worker_role():
    """`(is_chief, task_id)` of this process in a multi-worker cluster.

    The chief is the task of type "chief", or worker 0 when there is none; outside
    a cluster the process is its own chief.
    """
    config = cluster_config()
    if config is None:
        return True, "chief"
    task_type, index = config["task"]["type"], int(config["task"]["index"])
    has_chief = "chief" in config["cluster"]
    chief = task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)
    return chief, f"{task_type}-{index}"


def enable_determinism(seed):
    """Seed every generator and make TensorFlow's ops deterministic.

    After this, training the same model on the same data with the same seed on the
    same machine gives bit-identical weights and scores. It is process-wide and
    cannot be undone; some kernels run slower (docs/cli.md, "Determinism"
    has the measured cost).

    Args:
        seed: an int in [0, 2**32 - 1].
    """
    keras.utils.set_random_seed(arguments.seed("seed", seed))
    tf.config.experimental.enable_op_determinism()
