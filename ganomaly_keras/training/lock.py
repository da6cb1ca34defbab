"""One training process per run directory, and no lock left behind by a dead one.

`RunLock(run_dir)` takes an exclusive `fcntl.flock` on `<run_dir>/.lock`. The
operating system releases such a lock when its process ends, however it ends (a
crash, `kill -9`, a lost machine), so a stale lock file never blocks the next run:
only a live process holds it. A second `train` on a directory in use fails at once
with the holder's process id, host and start time, which the holder writes into the
file.
"""

import datetime
import json
import os
import socket

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not protected there.
    fcntl = None

LOCK_NAME = ".lock"


class RunDirectoryInUse(RuntimeError):
    """Another live process is training in this run directory."""


class RunLock:
    """An exclusive lock on a run directory, held while a `with` block runs.

    Args:
        run_dir: the run directory (created if missing).

    Raises:
        RunDirectoryInUse: on entering, when another live process holds it.

    Example:
    ```python
    with RunLock("runs/ganomaly"):
        ...  # train, checkpoint, export
    ```
    """

    def __init__(self, run_dir):
        self.run_dir = os.fspath(run_dir)
        self.path = os.path.join(self.run_dir, LOCK_NAME)
        self._handle = None

    def __enter__(self):
        os.makedirs(self.run_dir, exist_ok=True)
        handle = open(self.path, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip()
                handle.close()
                raise RunDirectoryInUse(
                    f"{self.run_dir} is in use by another training process "
                    f"({_describe(holder)}); wait for it to finish, stop it, or choose "
                    "another --run-dir."
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
        }))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc):
        if self._handle is not None:
            if fcntl is not None:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        return False


def _describe(holder):
    try:
        info = json.loads(holder)
        return f"process {info['pid']} on {info['host']}, since {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not written its id yet"
