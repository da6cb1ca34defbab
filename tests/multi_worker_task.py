"""One worker of the multi-worker test (tests/models/test_training_step.py), run as a script.

    python tests/multi_worker_task.py INDEX PORT0,PORT1 OUT_PREFIX

Joins a cluster of workers on 127.0.0.1 through TF_CONFIG, trains the test's tiny
GANomaly under MultiWorkerMirroredStrategy on the test's data, and saves its weights
and history to OUT_PREFIX_INDEX.npz.
"""

import json
import os
import sys

index, ports, out = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
    "task": {"type": "worker", "index": index},
})
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads
from ganomaly_keras.training.execution import make_strategy  # noqa: E402

strategy = make_strategy("multi_worker")  # before any other TensorFlow op

from tests.helpers import train_under as train  # noqa: E402
from tests.models.test_training_step import distributed_data  # noqa: E402

model, history = train(strategy, distributed_data())
import numpy as np  # noqa: E402

np.savez(
    f"{out}_{index}.npz",
    *[w.numpy() for w in model.weights],
    history=json.dumps(history),
    replicas=strategy.num_replicas_in_sync,
)
