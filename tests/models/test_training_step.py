"""models/training_step.py under tf.distribute: MirroredStrategy over two logical CPU
devices and MultiWorkerMirroredStrategy over two worker processes on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import helpers
from tests.settings import TESTS as HERE


def distributed_data():
    """32 fixed images in two global batches of 16, sharded by element."""
    x = np.random.default_rng(0).uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return tf.data.Dataset.from_tensor_slices(x).batch(16).with_options(options)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_training_matches_single_device(mirrored, rng):
    x = rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    single_model, single = helpers.train_under(tf.distribute.get_strategy(), x)
    multi_model, multi = helpers.train_under(mirrored, x)
    assert multi_model.distribute_strategy.num_replicas_in_sync == 2
    # Two steps: the second one's losses depend on the first update, so gradients
    # reduced against the wrong batch size would show here.
    for name in ("g_loss", "g_adv", "g_con", "g_enc", "d_loss"):
        assert multi[name][0] == pytest.approx(single[name][0], rel=1e-4), name
    for a, b in zip(single_model.weights, multi_model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-5)


@pytest.mark.slow
def test_multi_worker_training_matches_single_process(tmp_path):
    """Two processes joined by TF_CONFIG train what one process trains on the same
    global batches (each worker gets half of every batch; gradients and BatchNorm
    statistics are reduced across the workers)."""
    ports = ",".join(map(str, _free_ports(2)))
    out = str(tmp_path / "worker")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.join(HERE, "multi_worker_task.py"), str(i), ports, out],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for i in range(2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output[-3000:]
    single_model, single = helpers.train_under(tf.distribute.get_strategy(), distributed_data())
    for index in range(2):
        saved = np.load(f"{out}_{index}.npz")
        assert int(saved["replicas"]) == 2
        multi = json.loads(str(saved["history"]))
        for name in ("g_loss", "g_adv", "g_con", "g_enc", "d_loss"):
            assert multi[name][0] == pytest.approx(single[name][0], rel=1e-4), name
        for i, weight in enumerate(single_model.weights):
            np.testing.assert_allclose(saved[f"arr_{i}"], weight.numpy(), rtol=1e-3, atol=1e-5)

