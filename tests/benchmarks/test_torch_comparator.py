"""benchmarks/torch_comparator.py: the PyTorch comparator has the reference shapes and
computes the Keras step's losses from the same weights (needs the [bench] extra)."""


import keras
import numpy as np
import pytest

from benchmarks.speed import DESIGN_PARAMETERS_32X1


def _copy_weights(keras_layers, torch_modules):
    """Keras conv / BatchNorm weights into the same torch modules, in order."""
    import torch

    keras_layers = [
        layer for layer in keras_layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.BatchNormalization))
    ]
    torch_modules = [
        m for m in torch_modules
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.BatchNorm2d))
    ]
    assert len(keras_layers) == len(torch_modules)
    with torch.no_grad():
        for layer, module in zip(keras_layers, torch_modules):
            if isinstance(layer, keras.layers.BatchNormalization):
                gamma, beta, mean, variance = (np.asarray(w) for w in layer.weights)
                for target, value in zip(
                    (module.weight, module.bias, module.running_mean, module.running_var),
                    (gamma, beta, mean, variance),
                ):
                    target.copy_(torch.from_numpy(value))
            else:
                # Keras (kh, kw, in, out) / transpose (kh, kw, out, in) -> torch
                # (out, in, kh, kw) / transpose (in, out, kh, kw): the same permutation.
                kernel = np.asarray(layer.kernel).transpose(3, 2, 0, 1)
                module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))


def _encoder_layers(encoder):
    return list(encoder.feature_blocks) + [encoder.final_conv]


@pytest.mark.parametrize("size,channels,expected", [
    (32, 1, DESIGN_PARAMETERS_32X1),
    # docs/design.md section 1's table.
    (32, 3, {"G_E": 1_068_800, "G_D": 1_068_928, "G_total": 3_206_528, "D_total": 663_296}),
    (64, 3, {"G_E": 3_576_576, "G_D": 3_576_704, "G_total": 10_729_856, "D_total": 2_765_568}),
])
def test_the_torch_comparator_has_the_reference_parameter_counts(size, channels, expected):
    pytest.importorskip("torch")
    from benchmarks import torch_comparator

    assert torch_comparator.parameter_counts(*torch_comparator.build(size, channels)) == expected


def test_the_torch_step_computes_the_keras_losses_from_the_same_weights():
    """Same weights and batch: the comparator's G and D losses equal GANomaly's
    (training-mode BatchNorm), so it times the same step."""
    torch = pytest.importorskip("torch")
    from benchmarks import torch_comparator
    from ganomaly_keras import GANomaly

    model = GANomaly(image_size=32, channels=1)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)).astype("float32")
    losses = {k: float(v) for k, v in model._step_losses(x, training=True).items()}
    generator, discriminator = torch_comparator.build(32, 1)
    g, d = model.generator, model.discriminator
    _copy_weights(_encoder_layers(g.encoder), [*generator.encoder.modules()])
    _copy_weights(list(g.decoder.blocks), [*generator.decoder.modules()])
    _copy_weights(_encoder_layers(g.latent_encoder), [*generator.latent_encoder.modules()])
    _copy_weights(_encoder_layers(d.body), [*discriminator.modules()])
    step = torch_comparator.TrainingStep(generator, discriminator)
    g_loss, d_loss = step(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    assert g_loss == pytest.approx(losses["g_loss"], rel=1e-4)
    assert d_loss == pytest.approx(losses["d_loss"], rel=1e-4)

