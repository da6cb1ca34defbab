"""The PyTorch comparator: GANomaly's reference networks and this package's training
step, written in PyTorch, to measure speed side by side on the machine at hand.

Not part of the library: it needs the optional extra `pip install -e ".[bench]"`
(torch 2.13.0, CPU build) and is run by `ganomaly-keras benchmark --against-torch`
in child processes (`python -m benchmarks.torch_comparator`): a warmed-up worker
serving timed training blocks, or a fresh process per scoring measurement.

It is faithful to docs/design.md sections 1 and 2 and to `ganomaly_keras.models.GANomaly`:
the same DCGAN encoder, decoder, second encoder and discriminator (4x4 convolutions
without biases, BatchNorm, LeakyReLU 0.2 / ReLU, tanh; kernels N(0, 0.02), BatchNorm
gamma N(1, 0.02)), the same parameter counts (`parameter_counts`, checked against
the parameter table of docs/design.md by the benchmark), and the same step: one forward pass of G and of
D on x and x_hat, the G loss `1 * L_adv + 50 * L_con + 1 * L_enc` (feature matching,
L1, latent L2) differentiated with respect to G's parameters, the D loss
`0.5 * (BCE(D(x), 1) + BCE(D(x_hat), 0))` with respect to D's, two Adam optimizers
(lr 2e-4, betas 0.5 / 0.999), and D re-initialised when its loss falls below 1e-5.
Its score is the package's default: `mean((z - z_hat)^2)` in eval mode.
"""

import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def _initialise(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Encoder(nn.Module):
    """The DCGAN encoder: image -> `outputs` x 1 x 1, and its last 4x4 feature map."""

    def __init__(self, image_size, channels, outputs, width=64):
        super().__init__()
        layers = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        size, filters = image_size // 2, width
        while size > 4:
            layers += [
                nn.Conv2d(filters, filters * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(filters * 2),
                nn.LeakyReLU(0.2, True),
            ]
            size, filters = size // 2, filters * 2
        self.features = nn.Sequential(*layers)
        self.final = nn.Conv2d(filters, outputs, 4, 1, 0, bias=False)

    def forward(self, x):
        features = self.features(x)
        return self.final(features), features


class Decoder(nn.Module):
    """The DCGAN decoder: latent x 1 x 1 -> image in [-1, 1]."""

    def __init__(self, image_size, channels, latent_size=100, width=64):
        super().__init__()
        filters = width * image_size // 8
        layers = [
            nn.ConvTranspose2d(latent_size, filters, 4, 1, 0, bias=False),
            nn.BatchNorm2d(filters),
            nn.ReLU(True),
        ]
        size = 4
        while size < image_size // 2:
            layers += [
                nn.ConvTranspose2d(filters, filters // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(filters // 2),
                nn.ReLU(True),
            ]
            size, filters = size * 2, filters // 2
        layers += [nn.ConvTranspose2d(filters, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return self.body(z)


class Generator(nn.Module):
    """x -> z = G_E(x) -> x_hat = G_D(z) -> z_hat = E(x_hat)."""

    def __init__(self, image_size, channels, latent_size=100, width=64):
        super().__init__()
        self.encoder = Encoder(image_size, channels, latent_size, width)
        self.decoder = Decoder(image_size, channels, latent_size, width)
        self.latent_encoder = Encoder(image_size, channels, latent_size, width)

    def forward(self, x):
        z, _ = self.encoder(x)
        x_hat = self.decoder(z)
        z_hat, _ = self.latent_encoder(x_hat)
        return x_hat, z.flatten(1), z_hat.flatten(1)


def build(image_size=32, channels=1, latent_size=100, width=64, seed=0):
    """The generator and discriminator (D outputs a logit and its features)."""
    torch.manual_seed(seed)
    generator = Generator(image_size, channels, latent_size, width)
    discriminator = Encoder(image_size, channels, 1, width)
    generator.apply(_initialise)
    discriminator.apply(_initialise)
    return generator, discriminator


def _count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def parameter_counts(generator, discriminator):
    """Trainable parameters, named as in the parameter table of docs/design.md."""
    return {
        "G_E": _count(generator.encoder),
        "G_D": _count(generator.decoder),
        "G_total": _count(generator),
        "D_total": _count(discriminator),
    }


class TrainingStep:
    """This package's GANomaly training step in PyTorch (see the module docstring)."""

    def __init__(self, generator, discriminator, weights=(1.0, 50.0, 1.0), reset_below=1e-5):
        self.generator, self.discriminator = generator, discriminator
        self.weights, self.reset_below = weights, reset_below
        self.generator_optimizer = self._adam(generator)
        self.discriminator_optimizer = self._adam(discriminator)
        self.resets = 0

    @staticmethod
    def _adam(module):
        return torch.optim.Adam(module.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def __call__(self, x):
        self.generator.train()
        self.discriminator.train()
        x_hat, z, z_hat = self.generator(x)
        real_logits, real_features = self.discriminator(x)
        fake_logits, fake_features = self.discriminator(x_hat)
        adversarial = torch.mean((real_features - fake_features) ** 2)
        contextual = torch.mean(torch.abs(x - x_hat))
        latent = torch.mean((z - z_hat) ** 2)
        w_adv, w_con, w_enc = self.weights
        generator_loss = w_adv * adversarial + w_con * contextual + w_enc * latent
        bce = nn.functional.binary_cross_entropy_with_logits
        discriminator_loss = 0.5 * (
            bce(real_logits, torch.ones_like(real_logits))
            + bce(fake_logits, torch.zeros_like(fake_logits))
        )
        g_parameters = list(self.generator.parameters())
        d_parameters = list(self.discriminator.parameters())
        g_gradients = torch.autograd.grad(generator_loss, g_parameters, retain_graph=True)
        d_gradients = torch.autograd.grad(discriminator_loss, d_parameters)
        for parameters, gradients, optimizer in (
            (g_parameters, g_gradients, self.generator_optimizer),
            (d_parameters, d_gradients, self.discriminator_optimizer),
        ):
            for parameter, gradient in zip(parameters, gradients):
                parameter.grad = gradient
            optimizer.step()
        if discriminator_loss.item() < self.reset_below:
            self.discriminator.apply(_initialise)
            self.discriminator_optimizer = self._adam(self.discriminator)
            self.resets += 1
        return float(generator_loss.detach()), float(discriminator_loss.detach())


def _threads():
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.get_num_threads()


def training_block(image_size=32, channels=1, batch_size=64, steps=10):
    """The PyTorch side of `benchmarks.speed.training_block`: the comparator
    on random images, warmed up by one untimed epoch of `steps` steps, and the
    function that times one more epoch and returns `{"images_per_s", ...}`."""
    threads = _threads()
    generator, discriminator = build(image_size, channels)
    step = TrainingStep(generator, discriminator)
    rng = np.random.default_rng(0)
    data = torch.from_numpy(
        rng.uniform(-1, 1, (steps, batch_size, channels, image_size, image_size)).astype("float32")
    )

    def one_epoch():
        start = time.perf_counter()
        for batch in data:
            step(batch)
        return {
            "framework": f"torch {torch.__version__}",
            "threads": threads,
            "image_shape": [image_size, image_size, channels],
            "batch_size": batch_size,
            "images_per_s": batch_size * steps / (time.perf_counter() - start),
            "parameters": parameter_counts(generator, discriminator),
        }

    one_epoch()
    return one_epoch


def training_throughput(steps=30, epochs=3, **options):
    """Steady-state training images/s of one process, as
    `benchmarks.speed.training_throughput` measures it."""
    from benchmarks.measurement import median_of_blocks

    return median_of_blocks(training_block(steps=steps, **options), epochs)


def scoring_latencies(image_size=32, channels=1, repeats=30):
    """ms per image of the eval-mode score at batch 1 and 64, from uint8 NHWC pixels
    (scaled to [-1, 1] and laid out NCHW inside the timed call, as the exported
    models preprocess inside theirs)."""
    from benchmarks.measurement import batch_latencies

    threads = _threads()
    generator, _ = build(image_size, channels)
    generator.eval()

    class Runtime:
        def run(self, pixels):
            with torch.inference_mode():
                x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1.0
                _, z, z_hat = generator(x)
                return torch.mean((z - z_hat) ** 2, dim=1).numpy()

    pixels = np.random.default_rng(0).integers(
        0, 256, (64, image_size, image_size, channels), dtype=np.uint8
    )
    return {
        "name": f"torch {torch.__version__} eval",
        "threads": threads,
        **batch_latencies(Runtime(), pixels, repeats),
    }


MEASUREMENTS = {"training": training_throughput, "scoring": scoring_latencies}
BLOCKS = {"training": training_block}

if __name__ == "__main__":
    from benchmarks.measurement import serve_blocks

    request = json.loads(sys.argv[1])
    if "worker" in request:
        serve_blocks(BLOCKS[request.pop("worker")](**request))
    else:
        print(json.dumps(MEASUREMENTS[request.pop("measure")](**request)))
