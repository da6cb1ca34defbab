"""The detectors of the GANomaly family, one folder each, on one shared base.

`base.AdversarialDetector` is the contract every member meets and `training_step`
the one training step they all use; `registry` names them for runs and registers every
detector and network with Keras (so saved `.keras` files load); `options` is the
table of their options the command line reads without TensorFlow.

Names load on first use: `import ganomaly_keras.models.options` imports no
TensorFlow.
"""

import importlib

# Public name -> the module of this package that defines it.
_PUBLIC = {
    "AdversarialDetector": "base",
    "AnoGAN": "anogan",
    "Critic": "simultaneous_encoder",
    "DETECTORS": "registry",
    "EGBAD": "egbad",
    "GANomaly": "ganomaly",
    "Generator": "ganomaly",
    "JointDiscriminator": "egbad",
    "LatentDiscriminator": "skip_ganomaly",
    "SimultaneousEncoderGAN": "simultaneous_encoder",
    "SkipGANomaly": "skip_ganomaly",
    "UNetGenerator": "skip_ganomaly",
    "detector_class": "registry",
    "model_options": "registry",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ganomaly_keras.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ganomaly_keras.models.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
