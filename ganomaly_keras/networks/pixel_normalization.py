"""Pixel normalisation of a latent code (Karras et al. 2018, as in Berg et al.'s code)."""

import keras


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class PixelNormalization(keras.layers.Layer):
    """`x / sqrt(mean(x^2 over the last axis) + epsilon)`: each code onto the sphere of
    radius `sqrt(size)`.

    A generator that normalises its input this way gives the same image for `z` and
    for `c * z` with any `c > 0`, so an encoder trained to invert it may give codes of
    any norm: the norm is left free to carry information (Berg et al.'s anomaly cue).
    No weights.

    Args:
        epsilon: float, added under the square root (1e-8, as the progressive GAN).

    Example:
    ```python
    z = keras.random.normal((8, 1, 1, 512))
    PixelNormalization()(3.0 * z)  # the same as PixelNormalization()(z)
    ```
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        mean_square = keras.ops.mean(keras.ops.square(x), axis=-1, keepdims=True)
        return x * keras.ops.rsqrt(mean_square + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
