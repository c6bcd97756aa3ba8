"""Typed training configuration: one dataclass per concern, each with ``to_dict`` / ``from_dict``.

``TrainConfig`` holds the run (mode, steps, optimiser, devices, loss weights) and nests
``AugmentConfig`` (patch sampling and spectrum-safe augmentations). Network choices are registry specs
(``{"name": "unet", ...}``, see :mod:`insgan_core.gan.networks`) and the intensity normalisation is a
:class:`~insgan_core.gan.normalisation.Normaliser` parameter dict, so a whole configuration is plain JSON
and is stored in model files and checkpoints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import InsganInputError
from .networks import GENERATORS, available_networks
from .normalisation import TRANSFORMS

__all__ = [
    "TrainConfig",
    "AugmentConfig",
    "MODES",
    "COVERAGE_RULES",
    "GAN_LOSSES",
    "default_generator",
    "default_discriminator",
]

MODES = ("paired", "unpaired")
#: how the output coverage mask is learned from the targets' NaN patterns (see TrainConfig.coverage)
COVERAGE_RULES = ("union", "majority", "input")
GAN_LOSSES = ("lsgan", "vanilla")


def default_generator() -> dict:
    """Default generator: small U-Net (~0.18 M parameters, ~12 ms per 200x200 map on 2 CPU cores).

    Notes
    -----
    ``residual=False``: the generator predicts the target map, not a correction added to its input.
    Clean spin-wave maps have sharp, bright modes that the instrument resolution spreads out; a residual
    generator starts by passing those spikes through and must learn to cancel them, which in the paired
    benchmark (Bi2Fe4O9 MC-artefact maps, ``benchmarks/bench_gan_quality.py``) left the output 20-40x the
    target maximum at the modes after 300 steps (gap closed -104 % vs +51 % without the residual).
    """
    return {"name": "unet", "width": 8, "depth": 3, "norm": "none", "residual": False}


def default_discriminator(mode: str = "paired") -> dict:
    """Default PatchGAN (receptive field 70 bins) for ``mode``.

    Notes
    -----
    Paired mode uses instance normalisation (pix2pix); the discriminator is conditional and the L1 term
    fixes absolute levels. Unpaired mode uses none: instance normalisation removes each patch's
    intensity level and contrast from the features, so an unconditional discriminator could not
    penalise a wrong background level or scale, which is much of what distinguishes measured maps.
    Measured with ``benchmarks/bench_gan_quality.py``-style runs (600 steps, 16 clean Bi2Fe4O9 maps →
    real MERLIN 5 K map, 116 x 110 bins, held-out |Q| blocks): patch-distance reduction 66 % without vs.
    -144 % / 63 % (seeds 0 / 1) with instance normalisation; with the 0.3 intensity jitter as well,
    79 / 82 / 27 / 67 % over seeds 0-3.
    """
    return {"name": "patchgan", "width": 16, "n_layers": 3, "norm": "instance" if mode == "paired" else "none"}


#: unpaired-mode default of AugmentConfig.intensity_jitter (paired: 0)
UNPAIRED_INTENSITY_JITTER = 0.3


def _from_dict(cls, d: dict, what: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise InsganInputError(f"{what}: unknown field(s) {unknown}; known fields: {sorted(names)}")
    return cls(**d)


@dataclass
class AugmentConfig:
    """Random patch sampling and augmentations that respect the physics of INS maps.

    Parameters
    ----------
    min_coverage : float
        A sampled patch must have at least this fraction of covered (non-NaN) bins in its map.
    intensity_jitter : float or None
        Relative amplitude of a random overall intensity factor ``1 + U(-a, a)`` (applied to source and
        target of a pair alike in paired mode, independently to source and target patches in unpaired
        mode). 0 disables it. None: the mode's default, set by :class:`TrainConfig` (0 paired, 0.3
        unpaired, where it steadied CUT training on the real Bi2Fe4O9 map).
    q_shift : bool
        Random patch positions (shifts along |Q| and energy) — translations only.

    Notes
    -----
    No flips or rotations: the energy axis has a direction (detailed balance: S(Q,−E) =
    exp(−E/kT) S(Q,E); kinematic limits and resolution depend on E), and |Q| flips would invert the
    form-factor fall-off.
    """

    min_coverage: float = 0.3
    intensity_jitter: float | None = None
    q_shift: bool = True

    def __post_init__(self):
        if not 0.0 <= self.min_coverage <= 1.0:
            raise InsganInputError(f"augment.min_coverage must be in [0, 1], got {self.min_coverage}")
        if self.intensity_jitter is not None and not 0.0 <= self.intensity_jitter < 1.0:
            raise InsganInputError(f"augment.intensity_jitter must be in [0, 1), got {self.intensity_jitter}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AugmentConfig":
        return _from_dict(cls, d, "augment config")


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Parameters
    ----------
    mode : {"paired", "unpaired"}
        paired: pix2pix (adversarial + L1 on covered bins + optional spectral term) on (source, target)
        pairs on one grid. unpaired: CUT (adversarial + PatchNCE) on random patches; one target map is
        enough.
    steps : int
        Optimisation steps (one generator and one discriminator update each).
    batch_size : int
        Maps (paired, whole maps) or patches per step **per process**.
    lr, beta1, beta2 : float
        Adam parameters (generator and discriminator).
    lr_decay_start : float
        Fraction of ``steps`` after which the learning rate decays linearly to 0 at the last step
        (pix2pix's "linear" policy); 1.0 keeps it constant.
    seed : int
        Seeds weights and every random draw; same seed → same weights.
    checkpoint_every : int
        Steps between checkpoints (0: none). A crash loses at most this many steps.
    log_every : int
        Steps between CSV/TensorBoard log rows.
    device : {"auto", "cpu", "cuda", "cuda:N"}
    amp : bool
        Mixed precision (float16 autocast + gradient scaling); used on CUDA only, ignored on CPU.
    generator, discriminator : dict
        Network registry specs. ``discriminator=None``: :func:`default_discriminator` of the mode.
    gan_loss : {"lsgan", "vanilla"}
    lambda_gan, lambda_l1, lambda_spectral, lambda_nce : float
        Loss weights. ``lambda_l1``/``lambda_spectral`` paired only; ``lambda_nce`` unpaired only.
    nce_layers : list of int or None
        Generator encoder layers for PatchNCE (None: the generator's defaults).
    nce_patches : int
        Sampled positions per layer and image for PatchNCE.
    nce_temperature : float
    nce_identity : bool
        CUT's identity term: PatchNCE between a target patch and G(target patch).
    patch_size : int or [int, int] or None
        Training crop (H, W) in bins, at random positions. None: whole maps. Unpaired training from a
        few target maps needs patches (e.g. 32 or [32, 64]): they turn one map into many samples.
    coverage : {"union", "majority", "input"}
        Output mask when all targets share the source grid: "union" = bins covered in any target,
        "majority" = covered in more than half of them; "input" = use each input map's own mask.
        With targets on another grid, the input's mask is always used.
    normalisation : dict
        :class:`~insgan_core.gan.normalisation.Normaliser` options (``transform``, ``per_map``,
        ``quantile``, ``shared_scale``; ``shared_scale`` defaults to True in paired mode, False in
        unpaired mode).
    augment : AugmentConfig
    """

    mode: str = "paired"
    steps: int = 1000
    batch_size: int = 4
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_start: float = 0.5
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    device: str = "auto"
    amp: bool = True
    generator: dict = field(default_factory=default_generator)
    discriminator: dict | None = None
    gan_loss: str = "lsgan"
    lambda_gan: float = 1.0
    lambda_l1: float = 100.0
    lambda_spectral: float = 0.0
    lambda_nce: float = 1.0
    nce_layers: list | None = None
    nce_patches: int = 128
    nce_temperature: float = 0.07
    nce_identity: bool = True
    patch_size: int | list | None = None
    coverage: str = "union"
    normalisation: dict = field(default_factory=lambda: {"transform": "asinh", "per_map": False})
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_dict(self.augment)
        if self.mode not in MODES:
            raise InsganInputError(f"train config 'mode': expected 'paired' or 'unpaired', got {self.mode!r}")
        if self.discriminator is None:
            self.discriminator = default_discriminator(self.mode)
        if self.augment.intensity_jitter is None:
            jitter = UNPAIRED_INTENSITY_JITTER if self.mode == "unpaired" else 0.0
            self.augment = dataclasses.replace(self.augment, intensity_jitter=jitter)
        for name in ("steps", "batch_size", "nce_patches"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InsganInputError(f"train config '{name}': expected a positive integer, got {v!r}")
        for name in ("checkpoint_every", "log_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise InsganInputError(f"train config '{name}': expected an integer >= 0, got {v!r}")
        if not 0.0 <= self.lr_decay_start <= 1.0:
            raise InsganInputError(f"train config 'lr_decay_start': expected a fraction in [0, 1], got {self.lr_decay_start}")
        if not self.lr > 0:
            raise InsganInputError(f"train config 'lr': expected a positive learning rate, got {self.lr}")
        for name in ("lambda_gan", "lambda_l1", "lambda_spectral", "lambda_nce"):
            if getattr(self, name) < 0:
                raise InsganInputError(f"train config '{name}': loss weights must be >= 0, got {getattr(self, name)}")
        if self.gan_loss not in GAN_LOSSES:
            raise InsganInputError(f"train config 'gan_loss': expected one of {GAN_LOSSES}, got {self.gan_loss!r}")
        if self.coverage not in COVERAGE_RULES:
            raise InsganInputError(f"train config 'coverage': expected one of {COVERAGE_RULES}, got {self.coverage!r}")
        gname = self.generator.get("name") if isinstance(self.generator, dict) else None
        if gname not in GENERATORS:
            raise InsganInputError(
                f"train config 'generator': name must be one of {', '.join(GENERATORS)}, got {gname!r}"
            )
        dname = self.discriminator.get("name") if isinstance(self.discriminator, dict) else None
        if dname not in available_networks() or dname in GENERATORS:
            raise InsganInputError(f"train config 'discriminator': expected name 'patchgan', got {dname!r}")
        if self.normalisation.get("transform", "asinh") not in TRANSFORMS:
            raise InsganInputError(
                f"train config 'normalisation.transform': expected one of {TRANSFORMS}, "
                f"got {self.normalisation.get('transform')!r}"
            )
        if self.patch_size is not None:
            ps = self.patch_hw
            if min(ps) < 8:
                raise InsganInputError(f"train config 'patch_size': at least 8 bins per side, got {self.patch_size}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise InsganInputError(f"train config 'device': expected auto, cpu, cuda or cuda:N, got {self.device!r}")

    @property
    def patch_hw(self) -> tuple[int, int] | None:
        """``patch_size`` as (H, W) = (|Q| bins, energy bins), or None."""
        if self.patch_size is None:
            return None
        if isinstance(self.patch_size, int):
            return (self.patch_size, self.patch_size)
        ps = tuple(int(v) for v in self.patch_size)
        if len(ps) != 2:
            raise InsganInputError(f"train config 'patch_size': expected an int or [H, W], got {self.patch_size}")
        return ps

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["augment"] = self.augment.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        if isinstance(d.get("augment"), dict):
            d["augment"] = AugmentConfig.from_dict(d["augment"])
        if isinstance(d.get("patch_size"), tuple):
            d["patch_size"] = list(d["patch_size"])
        return _from_dict(cls, d, "train config")
