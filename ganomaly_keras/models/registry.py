"""The detectors a run can train, by name, and their options, read from the
constructors' signatures and docstrings.

`ganomaly-keras train --model NAME`, `train_run(detector=NAME)` and the family
comparison all take their list of detectors and of model options from here, so a new
constructor argument becomes a command-line option by itself.
"""

import inspect
import re

from ganomaly_keras.models.anogan.model import AnoGAN
from ganomaly_keras.models.base import constructor_parameters
from ganomaly_keras.models.egbad.model import EGBAD
from ganomaly_keras.models.ganomaly.model import GANomaly
from ganomaly_keras.models.simultaneous_encoder.model import SimultaneousEncoderGAN
from ganomaly_keras.models.skip_ganomaly.model import SkipGANomaly

DETECTORS = {
    "ganomaly": GANomaly,
    "skip_ganomaly": SkipGANomaly,
    "simultaneous_encoder_gan": SimultaneousEncoderGAN,
    "egbad": EGBAD,
    "anogan": AnoGAN,
}
# Constructor arguments a run sets itself: from the data, the seed and the strategy.
SET_BY_RUN = ("image_size", "channels", "working_size", "sync_batchnorm", "seed")


def detector_class(name):
    """The detector class registered as `name`."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {sorted(DETECTORS)}; got {name!r}.")
    return DETECTORS[name]


def model_options(name):
    """`{option: default}` of the options a user may set for detector `name`: its
    constructor arguments (its own and the shared ones) but those a run sets."""
    return {
        option: parameter.default
        for option, parameter in constructor_parameters(detector_class(name)).items()
        if option not in SET_BY_RUN
    }


def argument_help(cls, option):
    """The first sentence of `option`'s entry under `Args:` in the docstrings of
    `cls` or its bases, without its type ("" when undocumented)."""
    for klass in cls.__mro__:
        text = inspect.getdoc(klass) or ""
        found = re.search(
            rf"^\s*{option}: (.+?)(?=^\s*\w+: |^\s*\*\*kwargs|^\S|\Z)", text, re.M | re.S
        )
        if found:
            words = " ".join(found.group(1).split())
            return re.sub(r"^(?:int|float|bool|str)(?: in \[[^\]]*\])?[^,\[]*, ", "", words)
    return ""


def all_options():
    """`{option: (default, help, detectors)}` of every detector's options, in the
    order they first appear; `default` is the first detector's."""
    found = {}
    for name, cls in DETECTORS.items():
        for option, default in model_options(name).items():
            if option not in found:
                found[option] = (default, argument_help(cls, option), [])
            found[option][2].append(name)
    return found


__all__ = ["DETECTORS", "all_options", "detector_class", "model_options"]
