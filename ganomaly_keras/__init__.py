"""GANomaly for Keras 3: semi-supervised image anomaly detection (Akcay et al., 2018).

The public API, loaded on first use, so that `import ganomaly_keras` imports no
TensorFlow and sets no environment variable (`ganomaly_keras.edge` runs on a device
without TensorFlow):

    from ganomaly_keras import GANomaly, AUROCCallback, TensorBoardImages
    from ganomaly_keras import export_model, evaluate_detector, train_run, DataSpec

Call `ganomaly_keras.configure_tensorflow()` before anything imports TensorFlow for
the package's thread and logging settings (see `ganomaly_keras.backend`).
"""

from ganomaly_keras.lazy import lazy_names

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "configure_tensorflow": "ganomaly_keras.backend",
    # detectors
    "AdversarialDetector": "ganomaly_keras.models",
    "AnoGAN": "ganomaly_keras.models",
    "EGBAD": "ganomaly_keras.models",
    "GANomaly": "ganomaly_keras.models",
    "SimultaneousEncoderGAN": "ganomaly_keras.models",
    "SkipGANomaly": "ganomaly_keras.models",
    "DETECTORS": "ganomaly_keras.models",
    # networks
    "Critic": "ganomaly_keras.models",
    "Decoder": "ganomaly_keras.networks",
    "Discriminator": "ganomaly_keras.networks",
    "Encoder": "ganomaly_keras.networks",
    "Generator": "ganomaly_keras.models",
    "JointDiscriminator": "ganomaly_keras.models",
    "LatentDiscriminator": "ganomaly_keras.models",
    "UNetGenerator": "ganomaly_keras.models",
    # training, evaluation, export
    "AUROCCallback": "ganomaly_keras.training.callbacks",
    "BestModelCheckpoint": "ganomaly_keras.training.callbacks",
    "RunHistory": "ganomaly_keras.training.callbacks",
    "StepBudget": "ganomaly_keras.training.callbacks",
    "TensorBoardImages": "ganomaly_keras.training.tensorboard",
    "Calibration": "ganomaly_keras.scoring.calibration",
    "evaluate_detector": "ganomaly_keras.metrics.evaluation",
    "export_model": "ganomaly_keras.deploy.export",
    "load_model": "ganomaly_keras.saving",
    "DataSpec": "ganomaly_keras.data.spec",
    "train_run": "ganomaly_keras.training.run",
    "ExportMetadata": "ganomaly_keras.deploy.metadata",
    "read_metadata": "ganomaly_keras.deploy.metadata",
    "EdgeDetector": "ganomaly_keras.edge",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
