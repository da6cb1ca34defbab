"""The package's public API, and the names the examples import from it."""


import os

import pytest

import ganomaly_keras
from tests.settings import REPO


def test_the_public_api_is_at_the_top_level():
    for name in ganomaly_keras.__all__:
        assert getattr(ganomaly_keras, name) is not None, name
    from ganomaly_keras.deploy.export import export_model
    from ganomaly_keras.training.callbacks import AUROCCallback

    assert ganomaly_keras.AUROCCallback is AUROCCallback
    assert ganomaly_keras.export_model is export_model
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ganomaly_keras.Nope  # noqa: B018


def test_every_name_the_examples_import_from_the_package_exists():
    """The examples are not run by the suite; a name they import that the package no
    longer has would only show when a user runs them."""
    import ast
    import importlib

    folder = os.path.join(REPO, "examples")
    checked = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(folder, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "ganomaly_keras"
            ):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), (
                        f"examples/{name} imports {alias.name} from {node.module}, "
                        "which does not define it"
                    )
                    checked += 1
    assert checked >= 10

