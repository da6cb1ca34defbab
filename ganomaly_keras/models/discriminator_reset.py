"""GANomaly's discriminator re-initialisation, for the detectors that use it.

The reference GANomaly code re-initialises D whenever its loss falls below 1e-5 (D
has won and gives G no gradient). GANomaly and skip-GANomaly mix this in; the other
detectors of the family never re-initialise and do not carry its metric.
"""

import keras
import tensorflow as tf

from ganomaly_keras import arguments
from ganomaly_keras.models.training_step import sum_across_replicas


class DiscriminatorReset:
    """Re-initialise the discriminator, and its optimizer state, when it collapses.

    Mixed in before `AdversarialDetector`. After each training step, when the
    discriminator's loss (summed over replicas) is below
    `discriminator_reset_threshold`, every weight and moving statistic of D is
    redrawn and D's optimizer state is zeroed (the reference forgets the latter);
    the `d_reinit` metric counts the resets. The discriminator must have a
    `reinitialize(condition)` method.

    Args:
        discriminator_reset_threshold: float >= 0, re-initialise D when its loss
            falls below this (1e-5); 0 disables it.
        **kwargs: the arguments of `AdversarialDetector`.
    """

    def __init__(self, discriminator_reset_threshold=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.discriminator_reset_threshold = arguments.number(
            "discriminator_reset_threshold", discriminator_reset_threshold, minimum=0.0
        )
        self.reinit_tracker = keras.metrics.Sum(name="d_reinit")

    @property
    def metrics(self):
        return super().metrics + [self.reinit_tracker]

    def _after_update(self, discriminator_loss, replicas):
        if self.discriminator_reset_threshold <= 0:
            return
        collapsed = sum_across_replicas(discriminator_loss) < self.discriminator_reset_threshold
        if replicas == 1:
            # Draw and assign on the steps that collapse only. Drawing D's weights
            # on every step and keeping the old ones by `where` cost about 7% of a
            # training step (32x32x1, batch 64, CPU). `tf.cond` around variable
            # updates cannot synchronise replicas, so several replicas keep `where`.
            def reset():
                self._reinitialize_discriminator(True)
                return tf.constant(True)

            tf.cond(collapsed, reset, lambda: tf.constant(False))
        else:
            self._reinitialize_discriminator(collapsed)
        self.reinit_tracker.update_state(keras.ops.cast(collapsed, "float32") / replicas)

    def _reinitialize_discriminator(self, collapsed):
        """Where `collapsed` (True or a boolean tensor), fresh D weights and a fresh D
        optimizer state; elsewhere nothing changes."""
        self.discriminator.reinitialize(collapsed)
        learning_rate = getattr(self.discriminator_optimizer, "_learning_rate", None)
        for variable in self.discriminator_optimizer.variables:
            if variable is learning_rate:
                continue
            zeros = keras.ops.zeros_like(variable)
            variable.assign(zeros if collapsed is True else keras.ops.where(collapsed, zeros, variable))
