"""What the members with a separate encoder share: x_hat = G(E(x)).

EGBAD and the simultaneous-encoder model reconstruct an image by encoding it with E
and generating from the code with G, and their generator optimizer trains G and E
together. Mixed in before `AdversarialDetector`.
"""

import keras


class EncodedReconstruction:
    """Reconstruction through an encoder `self.encoder` and a generator `self.generator`."""

    @property
    def generator_variables(self):
        """What the generator optimizer (`model.optimizer`) updates: G's and E's weights."""
        return self.generator.trainable_variables + self.encoder.trainable_variables

    def reconstruction_outputs(self, x):
        """The reconstruction G(E(x)) in inference mode.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.

        Returns:
            `(x_hat, code)`: the reconstructed batch and the codes E(x), shape
            `(batch, latent_size)`.
        """
        code = self.encoder(x, training=False)
        return self.generator(code, training=False), keras.ops.reshape(code, (-1, self.latent_size))
