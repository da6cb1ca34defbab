"""BatchNormalization whose training step is TensorFlow's fused kernel.

Keras 3's `BatchNormalization` computes batch statistics with separate mean, variance
and normalisation ops, in float32 even under a bfloat16 policy (it casts its input up
and its output back down). That is about ten element-wise ops forward and more
backward per layer, where TensorFlow has one fused kernel each way
(`FusedBatchNormV3` and its gradient; oneDNN's on x86 CPUs, in bfloat16 as well).
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains with TensorFlow's fused kernel.

    The same function, variables, configuration and moving-statistics update as the
    Keras layer (the moving variance is updated with the biased batch variance, as
    Keras does). Only the training-mode call of a 4-D channels-last input, without
    mask, renormalisation or cross-replica synchronisation, takes the fused kernel
    (`tf.raw_ops.FusedBatchNormV3`); every other call, inference included (so the
    exported graphs are those of the Keras layer), is the Keras layer's own. The
    input keeps its dtype: under `mixed_bfloat16` the kernel reads and writes
    bfloat16, with float32 statistics.

    Args:
        **kwargs: those of `keras.layers.BatchNormalization`.

    Example:
    ```python
    bn = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    y = bn(tf.random.normal((64, 8, 8, 128)), training=True)
    ```
    """

    def _fusable(self, inputs, training, mask):
        return (
            training
            and self.trainable
            and mask is None
            and not self.renorm
            and not self.synchronized
            and self.center
            and self.scale
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and keras.backend.backend() == "tensorflow"
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        inputs = tf.cast(inputs, self.compute_dtype)
        empty = tf.constant([], tf.float32)
        outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=tf.cast(self.gamma, tf.float32),
            offset=tf.cast(self.beta, tf.float32),
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the Bessel-corrected batch variance; Keras' layer
        # updates its moving variance with the biased one.
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum + variance * (1.0 - momentum)
        )
        return outputs
