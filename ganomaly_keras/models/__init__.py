"""The detectors of the GANomaly family, one folder each, on one shared base.

`base.AdversarialDetector` is the contract every member meets and `training_step`
the one training step they all use; `registry` names them for runs and registers every
detector and network with Keras (so saved `.keras` files load); `options` is the
table of their options the command line reads without TensorFlow.

Names load on first use: `import ganomaly_keras.models.options` imports no
TensorFlow.
"""

from ganomaly_keras.lazy import lazy_names

# Public name -> the module of this package that defines it (relative).
_PUBLIC = {
    "AdversarialDetector": ".base",
    "AnoGAN": ".anogan",
    "Critic": ".simultaneous_encoder",
    "DETECTORS": ".registry",
    "EGBAD": ".egbad",
    "GANomaly": ".ganomaly",
    "Generator": ".ganomaly",
    "JointDiscriminator": ".egbad",
    "LatentDiscriminator": ".skip_ganomaly",
    "SimultaneousEncoderGAN": ".simultaneous_encoder",
    "SkipGANomaly": ".skip_ganomaly",
    "UNetGenerator": ".skip_ganomaly",
    "detector_class": ".registry",
    "model_options": ".registry",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
