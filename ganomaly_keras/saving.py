"""Writing models to disk without ever leaving a half-written file behind."""

import json
import os
import tempfile


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
