"""GAN layer: learn clean simulation → experiment-like INS maps, and apply it in milliseconds.

Modules (one concept each):

- :mod:`~insgan_core.gan.networks`      registry of generators (``unet``, ``resnet``) and the ``patchgan``
                                         discriminator, all fully convolutional
- :mod:`~insgan_core.gan.normalisation` invertible intensity normalisation (scale + asinh/log1p)
- :mod:`~insgan_core.gan.losses`        adversarial, masked L1, spectral, PatchNCE
- :mod:`~insgan_core.gan.augment`       random patches and spectrum-safe augmentations
- :mod:`~insgan_core.gan.config`        typed training configuration
- :mod:`~insgan_core.gan.training`      paired (pix2pix) and unpaired (CUT) trainers, checkpoints, resume
- :mod:`~insgan_core.gan.distributed`   torch.distributed data parallelism (torchrun)
- :mod:`~insgan_core.gan.model_file`    safetensors model files with JSON metadata (never pickle)
- :mod:`~insgan_core.gan.inference`     :class:`TranslationModel` — apply a model to maps
- :mod:`~insgan_core.gan.metrics`       relative L1, SSIM, patch-distribution distance, cut comparisons

This layer depends on ``insgan_core.data`` only (never on ``spinwave`` or ``instrument``).
"""

from .config import AugmentConfig, TrainConfig
from .inference import TranslationModel
from .losses import GANLoss, PatchSampler, masked_l1, patch_nce_loss, spectral_loss
from .metrics import evaluate, patch_distance, relative_l1, ssim
from .model_file import FORMAT_VERSION, load_model, read_metadata, save_model
from .networks import available_networks, build_network
from .normalisation import Normaliser
from .training import TrainResult, learn_coverage_mask, train, validate_training_data

__all__ = [
    "AugmentConfig",
    "TrainConfig",
    "TrainResult",
    "train",
    "validate_training_data",
    "learn_coverage_mask",
    "available_networks",
    "build_network",
    "Normaliser",
    "GANLoss",
    "PatchSampler",
    "masked_l1",
    "spectral_loss",
    "patch_nce_loss",
    "FORMAT_VERSION",
    "save_model",
    "load_model",
    "read_metadata",
    "TranslationModel",
    "relative_l1",
    "ssim",
    "patch_distance",
    "evaluate",
]
