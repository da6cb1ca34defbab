"""Package names that load on first use, so importing a package imports nothing heavy
(`import ganomaly_keras` imports no TensorFlow)."""

import importlib


def lazy_names(namespace, public):
    """`(__getattr__, __dir__)` for the package whose `globals()` is `namespace`.

    Args:
        namespace: the package's `globals()`; it must define `__all__`.
        public: public name -> the module that defines it, absolute or relative to
            the package (".base").

    Example:
    ```python
    _PUBLIC = {"GANomaly": ".ganomaly"}
    __all__ = sorted(_PUBLIC)
    __getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
    ```
    """
    package = namespace["__name__"]

    def __getattr__(name):
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(public[name], package), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__():
        return namespace["__all__"]

    return __getattr__, __dir__
