"""Training on synthetic defects: restoration and a segmentation head, for the members
whose generator reconstructs its input (GANomaly, skip-GANomaly).

With `synthetic_defects=True`, every training batch gets defects pasted into about
half of its images (`ganomaly_keras.data.synthetic_defects`), and the generator is
trained to reconstruct the *clean* image from the corrupted one: its contextual loss
compares `G(x')` with `x`. It learns to remove what does not belong, so at test time a
real defect is repaired away and its residual stands out (DRAEM's reconstructive
network, Zavrtanik et al., ICCV 2021). The adversarial and latent losses stay as in the
member's paper, on the reconstruction of the corrupted image.

With `segmentation_head=True`, a small U-Net (`ganomaly_keras.networks.segmentation`)
reads the corrupted image and its reconstruction and is trained on the synthetic
masks with binary cross-entropy plus Dice; the generator's optimizer updates it, from
its own loss only (the reconstruction is held fixed for it). Its map gives the score
terms `segmentation_max` and `segmentation_topk`, which `score="auto"` can choose.
A head implies synthetic defects.

With `ssim_weight > 0`, the generator's loss also has `ssim_weight * mean((1 -
SSIM(x, G(x'))) / 2)`: structure, which an L1 loss alone blurs on textures.
"""

import keras
import tensorflow as tf

from ganomaly_keras import arguments
from ganomaly_keras.data.synthetic_defects import synthetic_defects
from ganomaly_keras.models.training_step import Phase, Update
from ganomaly_keras.networks.segmentation import SegmentationHead
from ganomaly_keras.scoring import structure

DICE_SMOOTHING = 1.0


def segmentation_loss(logits, masks):
    """Binary cross-entropy plus soft Dice of defect logits `(batch, h, w, 1)`
    against masks `(batch, h, w)`, each a mean over the batch."""
    logits = keras.ops.cast(logits[..., 0], "float32")
    bce = keras.ops.mean(keras.ops.binary_crossentropy(masks, logits, from_logits=True))
    probabilities = keras.ops.sigmoid(logits)
    overlap = keras.ops.sum(probabilities * masks, axis=(1, 2))
    total = keras.ops.sum(probabilities, axis=(1, 2)) + keras.ops.sum(masks, axis=(1, 2))
    dice = 1.0 - (2.0 * overlap + DICE_SMOOTHING) / (total + DICE_SMOOTHING)
    return bce + keras.ops.mean(dice)


class DefectTraining:
    """Synthetic defects, restoration, SSIM and a segmentation head (mixed in before
    `AdversarialDetector`).

    Args:
        synthetic_defects: bool, train the generator to restore clean images from
            copies with synthetic defects.
        segmentation_head: bool, train a segmentation head on the synthetic defects'
            masks (implies `synthetic_defects`).
        ssim_weight: float, weight of an SSIM term in the generator's loss (0).
        defect_probability: float in [0, 1], the share of training images that get a
            synthetic defect (0.5).
        head_width: int, channels of the segmentation head's first level (16).
        **kwargs: the arguments of `AdversarialDetector`.
    """

    def __init__(
        self, *, synthetic_defects=False, segmentation_head=False, ssim_weight=0.0,
        defect_probability=0.5, head_width=16, **kwargs,
    ):
        super().__init__(**kwargs)
        self.synthetic_defects = bool(synthetic_defects)
        self.segmentation_head = bool(segmentation_head)
        self._store_weight_options(ssim_weight=ssim_weight)
        self.defect_probability = arguments.number(
            "defect_probability", defect_probability, minimum=0.0, maximum=1.0
        )
        self.head_width = arguments.positive_integer("head_width", head_width)
        self.segmentation = None
        if self.segmentation_head:
            self.segmentation = SegmentationHead(
                image_size=self.image_size, channels=self.channels, width=self.head_width,
                sync_batchnorm=self.sync_batchnorm, name="segmentation",
            )

    @property
    def draws_defects(self):
        """Whether training pastes synthetic defects."""
        return self.synthetic_defects or self.segmentation_head

    def defect_loss_names(self):
        """The losses this adds to the member's: "g_ssim", "seg_loss"."""
        return tuple(
            name for name, used in (("g_ssim", self.ssim_weight > 0), ("seg_loss", self.segmentation_head))
            if used
        )

    def build_networks(self, input_shape):
        super().build_networks(input_shape)
        if self.segmentation is not None:
            self.segmentation.build(input_shape)

    def corrupt(self, x, training):
        """`(x', masks)`: with training and synthetic defects, `x` with defects pasted
        in (seeded by the model's seed and the step), else `x` and empty masks."""
        if not (training and self.draws_defects):
            return x, None
        step = tf.cast(self.optimizer.iterations, tf.int32)
        seed = tf.stack([tf.constant(self.seed or 0, tf.int32), step])
        return synthetic_defects(x, seed, self.defect_probability)

    def defect_terms(self, x, x_in, x_hat, masks, training):
        """The losses this adds, of the clean batch `x`, the generator's input `x_in`
        (corrupted), its reconstruction `x_hat` and the defects' `masks`."""
        terms = {}
        if self.ssim_weight > 0:
            terms["g_ssim"] = keras.ops.mean(structure.ssim_map(x, x_hat))
        if self.segmentation is not None:
            if masks is None:  # evaluation: no defects drawn, the head should see none
                masks = keras.ops.zeros(keras.ops.shape(x)[:3])
            logits = self.segmentation(x_in, keras.ops.stop_gradient(x_hat), training=training)
            terms["seg_loss"] = segmentation_loss(logits, masks)
        return terms

    @property
    def generator_variables(self):
        """What the generator optimizer updates: the member's generator side, and the
        segmentation head where there is one."""
        head = self.segmentation.trainable_variables if self.segmentation is not None else []
        return super().generator_variables + head

    def joint_phase(self):
        """The member's phase, in which the generator's optimizer also updates the
        segmentation head, on `seg_loss` alone."""
        if self.segmentation is None:
            return super().joint_phase()
        return Phase(self._step_losses, (
            Update(self.optimizer, (
                ("g_loss", super().generator_variables),
                ("seg_loss", self.segmentation.trainable_variables),
            )),
            Update(self.discriminator_optimizer, (("d_loss", self.discriminator_variables),)),
        ))
