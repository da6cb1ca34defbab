"""Writing models to disk without ever leaving a half-written file behind.

Files are written under a temporary name in their own folder and renamed into place
(`os.replace` is atomic). Folders (an export) are built beside their destination and
swapped in with one atomic exchange where the system has one (Linux `renameat2`
with `RENAME_EXCHANGE`), so a process killed at any moment, even with SIGKILL,
leaves either the old folder or the new one, whole.
"""

import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile

import keras

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary file in the same folder and a rename.

    A crash mid-write leaves the previous file (if any) intact, never a truncated one.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"model files must end in .keras; got {path!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp.keras"
    )
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def save_inference_model(model, path):
    """`model` for inference, written atomically: its configuration and every weight
    (calibration and normal statistics included), without optimizer state.

    A training checkpoint carries both optimizers' state, about twice the weights
    again; an export is for scoring, so it leaves them out. A run's own `model.keras`
    and checkpoints keep the full training state.
    """
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return save_model_atomically(copy, path)


def write_json_atomically(path, data):
    """`json.dump(data)` to `path` through a temporary file and a rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def _libc_renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_renameat2 = _libc_renameat2()


def exchange_paths(first, second):
    """Swap two existing paths in one atomic step; False where the system cannot."""
    if _renameat2 is None:
        return False
    result = _renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    return result == 0


def replace_directory(staging, target):
    """Move the folder `staging` to `target`, replacing any folder there.

    With an atomic exchange (Linux) a kill at any moment leaves the old `target` or
    the new one. Elsewhere the old folder is renamed aside first; a kill between the
    two renames leaves `target` missing and the old folder beside it, which the next
    `replace_directory` or `recover_directory` call puts back.
    """
    staging, target = os.fspath(staging), os.fspath(target)
    recover_directory(target)
    if not os.path.exists(target):
        os.replace(staging, target)
        return
    if exchange_paths(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now the old folder
        return
    backup = _backup_path(target)
    os.replace(target, backup)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def staging_directory(target):
    """A new empty folder beside `target` to build its replacement in.

    Its name carries this process's id; folders left by processes that were killed
    mid-write (whose id no longer runs) are removed first.
    """
    parent, name = os.path.split(os.path.abspath(os.fspath(target)))
    os.makedirs(parent, exist_ok=True)
    prefix = f".{name}.tmp-"
    for entry in os.listdir(parent):
        pid = entry[len(prefix):].split("-", 1)[0]
        if entry.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f"{prefix}{os.getpid()}-")
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would follow the folder into place
    return staging


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _backup_path(target):
    parent, name = os.path.split(os.path.abspath(target))
    return os.path.join(parent, f".{name}.old")


def recover_directory(target):
    """Put back a folder left aside by a `replace_directory` that was interrupted."""
    backup = _backup_path(target)
    if os.path.isdir(backup):
        if os.path.exists(target):
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(backup, target)


def load_model(path):
    """`keras.saving.load_model(path, safe_mode=True)`, with a clear refusal.

    Safe mode refuses `.keras` files whose config holds Python code (`Lambda`
    layers, pickled functions): such a file can run anything when it loads. Every
    model of this package saves without code, so nothing it writes is refused. The
    package's classes are registered first, so a fresh process loads its files
    (`keras.saving.load_model` alone needs `import ganomaly_keras.models.registry`
    before it).

    Args:
        path: a `.keras` file.

    Returns:
        the model, compiled as it was saved.

    Raises:
        ValueError: naming the file, when it would need unsafe deserialisation.
    """
    import ganomaly_keras.models.registry  # noqa: F401  (registers every detector and network)

    path = os.fspath(path)
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except ValueError as error:
        if "safe_mode" in str(error) or "unsafe" in str(error).lower():
            raise ValueError(
                f"{path} holds Python code (a lambda or a pickled function) that "
                "would run when it loads, so it is refused. Load only models you "
                "trust, and save them without Lambda layers."
            ) from None
        raise


def directory_bytes(path):
    """The size of a file, or of every file below a folder, in bytes."""
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(path)
        for name in names
    )
