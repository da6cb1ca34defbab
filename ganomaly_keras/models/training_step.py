"""The one training step every detector of the family uses.

A step is a sequence of phases. A phase is one forward pass that computes a dict of
losses, and the updates made from it: each update is one optimizer applying the
gradients of named losses with respect to named variables, all gradients of the phase
taken from the same forward pass before any update is applied.

- GANomaly, skip-GANomaly, EGBAD and AnoGAN have one phase (the default,
  `joint_phase`): G's optimizer on `g_loss` with respect to the generator side, D's
  on `d_loss` with respect to the discriminator, from one forward pass of D on x and
  on x_hat (the reference code's four D passes give the same gradients; DESIGN
  section "Training" in docs/design.md).
- The simultaneous-encoder model (a WGAN-GP) has `critic_steps` critic phases, then
  one phase in which its generator optimizer applies the gradients of `g_loss` to G
  and of `e_loss` to E.

Under a `tf.distribute` strategy each replica's mean loss is divided by the number of
replicas before its gradients are taken: the optimizers sum gradients across
replicas, so distributed training computes what one device computes on the global
batch. The rule lives here once, for every member.
"""

from typing import Callable, NamedTuple

import keras
import tensorflow as tf

from ganomaly_keras.models import inputs


class Update(NamedTuple):
    """One optimizer's update within a phase.

    Attributes:
        optimizer: the optimizer that applies the gradients.
        losses: `((loss name, variables), ...)`: the gradients of each named loss
            with respect to its variables, applied together in one call.
    """

    optimizer: object
    losses: tuple


class Phase(NamedTuple):
    """One forward pass of a training step and the updates made from it.

    Attributes:
        losses: `losses(x, training)` -> dict of this replica's mean losses.
        updates: the `Update`s made from that forward pass, in order.
    """

    losses: Callable
    updates: tuple


def num_replicas():
    """How many replicas the current `tf.distribute` strategy trains on."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def sum_across_replicas(value):
    """The sum of `value` over replicas inside `strategy.run`; `value` elsewhere."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def step_logs(metrics):
    """`{name: result}` of a train or test step's metrics.

    Under `MultiWorkerMirroredStrategy` Keras 3 reduces each log with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalars every
    metric returns ("Invalid reduction dimension 0 for input with 0 dimensions");
    there each result travels as shape (1,) and comes out of that reduction a scalar.
    """
    logs = {m.name: m.result() for m in metrics}
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    ):
        logs = {name: tf.reshape(value, (1,)) for name, value in logs.items()}
    return logs


def run_phase(phase, x, replicas):
    """One phase: its forward pass, every gradient, then each update in order.

    Returns:
        the phase's losses (this replica's means, not divided by `replicas`).
    """
    with tf.GradientTape(persistent=True) as tape:
        losses = phase.losses(x, training=True)
        scaled = {
            name: losses[name] / replicas
            for update in phase.updates for name, _ in update.losses
        }
    applied = []
    for update in phase.updates:
        gradients, variables = [], []
        for name, update_variables in update.losses:
            gradients += tape.gradient(scaled[name], update_variables)
            variables += list(update_variables)
        applied.append((update.optimizer, gradients, variables))
    del tape
    for optimizer, gradients, variables in applied:
        optimizer.apply_gradients(zip(gradients, variables))
    return losses


class TrainingStep:
    """`train_step` and `test_step` of a detector (mixed into `AdversarialDetector`).

    A member defines `_step_losses(x, training)`; one with another step structure
    overrides `training_phases`.
    """

    def joint_phase(self):
        """One forward pass of `_step_losses`: the generator optimizer on `g_loss`
        with respect to `generator_variables`, the discriminator optimizer on
        `d_loss` with respect to `discriminator_variables`."""
        return Phase(self._step_losses, (
            Update(self.optimizer, (("g_loss", self.generator_variables),)),
            Update(self.discriminator_optimizer, (("d_loss", self.discriminator_variables),)),
        ))

    def training_phases(self):
        """The phases of one training step, in order (default: `joint_phase` alone)."""
        return (self.joint_phase(),)

    def _update_trackers(self, losses):
        for name, tracker in self.trackers.items():
            if name in losses:
                tracker.update_state(losses[name])

    def train_step(self, data):
        """Run `training_phases` on a batch; update the loss trackers; then
        `_after_update` (the discriminator reset of the members that have one)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "training images")
        replicas = num_replicas()
        losses = {}
        for phase in self.training_phases():
            losses.update(run_phase(phase, x, replicas))
        self._update_trackers(losses)
        self._after_update(losses["d_loss"] / replicas, replicas)
        return step_logs(self.metrics)

    def _after_update(self, discriminator_loss, replicas):
        """Called after each training step's updates with this replica's share of
        D's loss; `discriminator_reset.DiscriminatorReset` uses it."""

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "validation images")
        self._update_trackers(self._step_losses(x, training=False))
        return step_logs(self.trackers.values())
