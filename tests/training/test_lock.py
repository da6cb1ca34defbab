"""training/lock.py: a run directory is locked while in use and freed by death."""


import signal
import subprocess
import sys
import textwrap

import pytest

from ganomaly_keras.training.lock import RunDirectoryInUse, RunLock
from tests.settings import REPO


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


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

