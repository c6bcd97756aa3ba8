"""GAN trainers: paired (pix2pix) and unpaired (CUT, PatchNCE), checkpoints, resume, logs, DDP.

:func:`train` is the one entry point. A run is fully determined by the data, the :class:`TrainConfig`
and the seed: networks are initialised from ``seed`` and every random draw of step ``k`` on rank ``r``
comes from a generator seeded with ``(seed, k, r)``, so a run resumed from a checkpoint (weights,
optimiser and gradient-scaler state, log history) continues exactly as if it had not been interrupted.

Maps are (nx, ne) = (H, W) images: H = |Q| (or path) bins, W = energy bins. Generators see
(B, 2, H, W) = (normalised intensity, coverage mask); every loss is restricted to bins where the target
has data, and the generated map is masked with the target-domain coverage (learned from the targets'
NaN patterns when they share the source grid, else the input's own mask): no data is invented there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .._version import __version__
from ..data.ins_map import INSMap, MapStack
from ..data.io._atomic import atomic_path
from ..errors import InsganFileError, InsganInputError
from .augment import intensity_factors, sample_patches, valid_patch_corners
from .config import TrainConfig
from .distributed import DistributedContext, average_gradients, broadcast_module, init_distributed
from ..data.counting import estimate_count_scale
from .inference import TranslationModel, resolve_device
from .losses import GANLoss, PatchSampler, masked_l1, patch_nce_loss, spectral_loss
from .metrics import relative_l1
from .networks import build_network
from .normalisation import Normaliser, coverage

__all__ = [
    "TrainResult",
    "train",
    "validate_training_data",
    "learn_coverage_mask",
    "data_hash",
    "latest_checkpoint",
]

log = logging.getLogger("insgan.train")

CHECKPOINT_KEY = "insgan_checkpoint"
_CHECKPOINT_GLOB = "checkpoint_step*.safetensors"
_KEEP_CHECKPOINTS = 2
_MIN_BINS = 8
#: configuration fields that may differ between an interrupted run and its resumption
_RESUME_MAY_CHANGE = ("steps", "checkpoint_every", "log_every", "device", "amp")


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    history : list of dict
        One record per logged step: ``step``, losses, ``maps_per_s``, ``elapsed_s``.
    model_path : Path or None
        The written model file (None on ranks other than 0).
    metadata : dict
        The metadata written into the model file.
    generator : torch.nn.Module or None
        The trained generator (identical on every rank).
    """

    history: list[dict] = field(default_factory=list)
    model_path: Path | None = None
    metadata: dict = field(default_factory=dict)
    generator: torch.nn.Module | None = None


# --- input checks ---------------------------------------------------------------------------------


def _as_stack(data, name: str) -> MapStack:
    if isinstance(data, MapStack):
        return data
    if isinstance(data, INSMap):
        return MapStack.from_maps([data])
    if isinstance(data, (list, tuple)):
        if not data:
            raise InsganInputError(f"{name}: empty training set (no maps given); give at least one map")
        return MapStack.from_maps(data)
    raise InsganInputError(f"{name}: expected a MapStack, an INSMap or a list of INSMaps, got {type(data).__name__}")


def validate_training_data(sources, targets, config: TrainConfig) -> tuple[MapStack, MapStack]:
    """Check the training data before any work; returns both sets as MapStacks.

    Raises
    ------
    InsganInputError
        Empty sets; paired sets of different lengths or grids; unpaired sets with different axis units;
        inf values; maps without any data (all NaN); maps smaller than 8 bins per side or than the
        patch size; a batch size larger than the set (whole-map training).
    """
    src = _as_stack(sources, "training sources")
    tgt = _as_stack(targets, "training targets")
    for name, st in (("sources", src), ("targets", tgt)):
        if len(st) == 0:
            raise InsganInputError(f"training {name}: empty training set; give at least one map")
        if np.isinf(st.signal).any():
            i = int(np.argwhere(np.isinf(st.signal).any(axis=(1, 2)))[0, 0])
            raise InsganInputError(
                f"training {name}: map {i} contains inf values; use NaN for masked or inaccessible bins"
            )
        empty = np.isnan(st.signal).all(axis=(1, 2))
        if empty.any():
            raise InsganInputError(
                f"training {name}: map(s) {np.flatnonzero(empty).tolist()} are entirely NaN (no data); remove them"
            )
        h, w = st.signal.shape[1:]
        if min(h, w) < _MIN_BINS:
            raise InsganInputError(
                f"training {name}: maps of {h} x {w} bins are too small; at least {_MIN_BINS} bins per axis"
            )
        if config.patch_hw is not None and (config.patch_hw[0] > h or config.patch_hw[1] > w):
            raise InsganInputError(
                f"train config 'patch_size' {config.patch_hw} is larger than the training {name} "
                f"({h} x {w} bins); choose a smaller patch_size"
            )
    if config.mode == "paired":
        if len(src) != len(tgt):
            raise InsganInputError(
                f"paired training: {len(src)} sources but {len(tgt)} targets; each source needs its target"
            )
        if not (src.x_axis.equals(tgt.x_axis) and src.e_axis.equals(tgt.e_axis)):
            raise InsganInputError(
                "paired training: sources and targets are on incompatible grids "
                f"({src.x_axis.size}x{src.e_axis.size} {src.x_axis.unit} vs {tgt.x_axis.size}x{tgt.e_axis.size} "
                f"{tgt.x_axis.unit}); rebin the targets to the source grid"
            )
    elif src.x_axis.unit != tgt.x_axis.unit:
        raise InsganInputError(
            f"unpaired training: sources have x unit {src.x_axis.unit!r} but targets {tgt.x_axis.unit!r}; "
            "both domains must be maps of the same kind (e.g. both S(|Q|,E))"
        )
    if config.patch_hw is None:
        n = min(len(src), len(tgt))
        if config.batch_size > n:
            raise InsganInputError(
                f"train config 'batch_size' {config.batch_size} is larger than the training set ({n} maps); "
                f"use batch_size <= {n} or set patch_size to train on random patches"
            )
    return src, tgt


def learn_coverage_mask(targets: MapStack, *, rule: str = "union") -> np.ndarray:
    """Target-domain coverage (nx, ne) bool from the targets' NaN patterns.

    ``rule="union"``: a bin is covered if any target has data there; ``"majority"``: if more than half
    of them do. (Use the union when targets differ only by masked detectors, so no real coverage is
    lost; the majority when a few targets have extra coverage that should not be generated.)
    """
    has = ~np.isnan(targets.signal)
    if rule == "union":
        return has.any(axis=0)
    if rule == "majority":
        return has.mean(axis=0) > 0.5
    raise InsganInputError(f"coverage rule must be 'union' or 'majority', got {rule!r}")


def data_hash(sources: MapStack, targets: MapStack) -> str:
    """SHA-256 of the training data (signals, errors and grids of both sets), hex."""
    h = hashlib.sha256()
    for st in (sources, targets):
        for a in (st.signal, st.error, st.x_axis.edges, st.e_axis.edges):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(st.x_axis.unit.encode())
    return h.hexdigest()


# --- checkpoints -----------------------------------------------------------------------------------


def latest_checkpoint(checkpoint_dir) -> Path | None:
    """The checkpoint with the highest step in ``checkpoint_dir``, or None."""
    d = Path(checkpoint_dir)
    files = sorted(d.glob(_CHECKPOINT_GLOB)) if d.is_dir() else []
    return files[-1] if files else None


def _optimizer_to_flat(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}.state.{idx}.{k}"] = v.detach().cpu().contiguous().clone()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_flat(prefix: str, opt: torch.optim.Optimizer, tensors: dict, info: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        if key.startswith(prefix + ".state."):
            idx, k = key[len(prefix) + 7 :].split(".", 1)
            state.setdefault(int(idx), {})[k] = v
    for key, v in info["scalars"].items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


class _Trainer:
    """State of one training run (networks, optimisers, data) and its step function."""

    def __init__(self, src: MapStack, tgt: MapStack, config: TrainConfig, *, device: torch.device, ctx: DistributedContext):
        self.cfg = config
        self.device = device
        self.ctx = ctx
        self.paired = config.mode == "paired"
        self.same_grid = src.x_axis.equals(tgt.x_axis) and src.e_axis.equals(tgt.e_axis)
        # paired: one scale for both domains unless configured otherwise (identity start = physical identity)
        self.normaliser = Normaliser(**{"shared_scale": self.paired, **config.normalisation}).fit(src, tgt)
        # output coverage: learned from the targets when they share the source grid
        self.coverage_mask = None
        if self.same_grid and config.coverage != "input":
            self.coverage_mask = learn_coverage_mask(tgt, rule=config.coverage)
        self.src = torch.as_tensor(src.signal, dtype=torch.float64)
        self.tgt = torch.as_tensor(tgt.signal, dtype=torch.float64)
        self.hw = config.patch_hw
        aug = config.augment
        if self.hw is not None:
            self.src_corners = [valid_patch_corners(coverage(m), self.hw, min_coverage=aug.min_coverage) for m in src.signal]
            self.tgt_corners = [valid_patch_corners(coverage(m), self.hw, min_coverage=aug.min_coverage) for m in tgt.signal]
            if not aug.q_shift:  # one fixed window per map: the first valid one
                self.src_corners = [c[:1] for c in self.src_corners]
                self.tgt_corners = [c[:1] for c in self.tgt_corners]
        self.out_mask_full = None
        if self.coverage_mask is not None:
            m = torch.as_tensor(self.coverage_mask, dtype=torch.float64)
            self.out_mask_full = m.expand(len(src), 1, *m.shape)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.G = build_network(config.generator)
            d_in = 3 if self.paired else 1
            self.D = build_network({**config.discriminator, "in_channels": d_in})
            self.F = None
            if not self.paired and config.lambda_nce > 0:
                self.nce_layers = tuple(config.nce_layers) if config.nce_layers else self.G.default_feature_layers()
                self.F = PatchSampler([self.G.feature_channels[i] for i in self.nce_layers])
        for net in self.nets.values():
            net.to(device)
            broadcast_module(net, ctx)
        g_params = list(self.G.parameters()) + (list(self.F.parameters()) if self.F is not None else [])
        betas = (config.beta1, config.beta2)
        self.opt_G = torch.optim.Adam(g_params, lr=config.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas)
        self.use_amp = bool(config.amp and device.type == "cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.gan_loss = GANLoss(config.gan_loss)
        self.step = 0
        self.history: list[dict] = []

    @property
    def nets(self) -> dict:
        nets = {"G": self.G, "D": self.D}
        if self.F is not None:
            nets["F"] = self.F
        return nets

    # --- batches ----------------------------------------------------------------------------------
    def _rng(self, step: int) -> torch.Generator:
        """The random generator of ``step`` on this rank: a function of (seed, step, rank) only."""
        g = torch.Generator()
        g.manual_seed(int(np.random.SeedSequence([self.cfg.seed, step, self.ctx.rank]).generate_state(1, np.uint64)[0]))
        return g

    def _batch(self, rng: torch.Generator):
        """Raw (float64, NaN-masked) source, target and output-mask tensors (B, 1, h, w)."""
        b = self.cfg.batch_size
        src4, tgt4 = self.src[:, None], self.tgt[:, None]
        out_mask = None
        if self.paired:
            if self.hw is None:
                idx = torch.randint(len(self.src), (b,), generator=rng)
                xs, ys = src4[idx], tgt4[idx]
            else:
                xs, ys = sample_patches(src4, self.src_corners, self.hw, b, generator=rng, companions=(tgt4,))
            f = intensity_factors(b, self.cfg.augment.intensity_jitter, generator=rng)[:, None, None, None]
            return xs * f, ys * f, None
        if self.hw is None:
            xs = src4[torch.randint(len(self.src), (b,), generator=rng)]
            ys = tgt4[torch.randint(len(self.tgt), (b,), generator=rng)]
            if self.out_mask_full is not None:
                out_mask = self.out_mask_full[:1].expand(b, -1, -1, -1)
        else:
            comp = (self.out_mask_full,) if self.out_mask_full is not None else ()
            got = sample_patches(src4, self.src_corners, self.hw, b, generator=rng, companions=comp)
            xs = got[0]
            out_mask = got[1] if comp else None
            ys = sample_patches(tgt4, self.tgt_corners, self.hw, b, generator=rng)[0]
        fx = intensity_factors(b, self.cfg.augment.intensity_jitter, generator=rng)[:, None, None, None]
        fy = intensity_factors(b, self.cfg.augment.intensity_jitter, generator=rng)[:, None, None, None]
        return xs * fx, ys * fy, out_mask

    def _nce(self, x_in: torch.Tensor, y_out: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """PatchNCE between the generator input ``x_in`` (B, 2, h, w) and its output ``y_out`` (B, 1, h, w)."""
        g = self.G
        k_in, _ = g.pad_input(x_in)
        q_in, _ = g.pad_input(torch.cat([y_out, x_in[:, 1:2]], dim=1))
        feat_k = g.encode_features(k_in, layers=self.nce_layers)
        feat_q = g.encode_features(q_in, layers=self.nce_layers)
        k_proj, ids = self.F(feat_k, self.cfg.nce_patches, generator=rng)
        q_proj, _ = self.F(feat_q, self.cfg.nce_patches, ids=ids)
        losses = [patch_nce_loss(q, k, temperature=self.cfg.nce_temperature) for q, k in zip(q_proj, k_proj)]
        return torch.stack(losses).mean()

    def learning_rate(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): constant, then linear decay towards 0."""
        cfg = self.cfg
        start = cfg.lr_decay_start * cfg.steps
        if step < start or cfg.lr_decay_start >= 1.0:
            return cfg.lr
        return cfg.lr * max(cfg.steps - step, 1) / max(cfg.steps - start, 1)

    #: unpaired: the discriminator sees each fake patch through the coverage of the real patch of the same
    #: batch slot. Measured (600 steps, Bi2Fe4O9 → real MERLIN map, held-out patch-distance reduction):
    #: 79 % with it vs 6 % without (same seed and settings). Kept switchable only for such comparisons.
    share_real_mask = True

    # --- one optimisation step --------------------------------------------------------------------
    def train_step(self) -> dict:
        cfg, dev, norm = self.cfg, self.device, self.normaliser
        lr = self.learning_rate(self.step)
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr
        rng = self._rng(self.step)
        xs, ys, out_mask = self._batch(rng)
        x = norm.encode(xs[:, 0], domain="source").to(dev)
        ref = xs[:, 0] if norm.per_map and self.paired else None
        y = norm.forward(ys[:, 0], domain="target", reference=ref)[:, None].float().to(dev)
        y_mask = coverage(ys).float().to(dev)
        if self.paired:
            fake_mask = y_mask
        elif out_mask is not None:
            fake_mask = out_mask.float().to(dev)
        else:
            fake_mask = x[:, 1:2]
        for net in self.nets.values():
            net.train()
        amp = torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=self.use_amp)

        # discriminator
        with amp:
            fake = self.G(x) * fake_mask
            real = y * y_mask
            # unpaired: D sees fake patches through the coverage of the real patches it is compared with,
            # otherwise the kinematic limits / masked detectors of real data (zeros) tell fake from real
            fake_d = fake if self.paired or not self.share_real_mask else fake * y_mask
            if self.paired:
                d_real = self.D(torch.cat([x, real], 1))
                d_fake = self.D(torch.cat([x, fake_d.detach()], 1))
            else:
                d_real = self.D(real)
                d_fake = self.D(fake_d.detach())
            loss_d = 0.5 * (self.gan_loss(d_real, True) + self.gan_loss(d_fake, False))
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        average_gradients(self.D, self.ctx)
        self.scaler.step(self.opt_D)

        # generator
        self.D.requires_grad_(False)
        rec = {}
        with amp:
            d_fake = self.D(torch.cat([x, fake], 1)) if self.paired else self.D(fake_d)
            loss_gan = self.gan_loss(d_fake, True)
            loss_g = cfg.lambda_gan * loss_gan
            if self.paired:
                l1 = masked_l1(fake, real, y_mask)
                loss_g = loss_g + cfg.lambda_l1 * l1
                rec["loss_l1"] = l1.item()
                if cfg.lambda_spectral > 0:
                    spec = spectral_loss(fake, real, y_mask)
                    loss_g = loss_g + cfg.lambda_spectral * spec
                    rec["loss_spectral"] = spec.item()
            elif self.F is not None:
                nce = self._nce(x, fake, rng)
                if cfg.nce_identity:
                    # CUT's identity term: target patches through G should keep their content
                    xt = torch.cat([y, y_mask], 1)
                    nce_idt = self._nce(xt, self.G(xt) * y_mask, rng)
                    nce = 0.5 * (nce + nce_idt)
                    rec["loss_nce_identity"] = nce_idt.item()
                loss_g = loss_g + cfg.lambda_nce * nce
                rec["loss_nce"] = nce.item()
        self.opt_G.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        average_gradients(self.G, self.ctx)
        if self.F is not None:
            average_gradients(self.F, self.ctx)
        self.scaler.step(self.opt_G)
        self.scaler.update()
        self.D.requires_grad_(True)
        self.step += 1
        return {"step": self.step, "lr": lr, "loss_D": loss_d.item(), "loss_G": loss_g.item(), "loss_G_gan": loss_gan.item(), **rec}

    # --- checkpoint state -------------------------------------------------------------------------
    def save_checkpoint(self, directory: Path, *, data_hash_hex: str) -> Path:
        from safetensors.torch import save_file

        tensors = {}
        for name, net in self.nets.items():
            for k, v in net.state_dict().items():
                tensors[f"{name}.{k}"] = v.detach().cpu().contiguous().clone()
        t_g, info_g = _optimizer_to_flat("optG", self.opt_G)
        t_d, info_d = _optimizer_to_flat("optD", self.opt_D)
        tensors.update(t_g)
        tensors.update(t_d)
        meta = {
            "step": self.step,
            "config": self.cfg.to_dict(),
            "data_hash": data_hash_hex,
            "optG": info_g,
            "optD": info_d,
            "scaler": {k: v for k, v in self.scaler.state_dict().items()},
            "history": self.history,
            "package_version": __version__,
        }
        path = directory / f"checkpoint_step{self.step:08d}.safetensors"
        with atomic_path(path, suffix=".safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={CHECKPOINT_KEY: json.dumps(meta)})
        for old in sorted(directory.glob(_CHECKPOINT_GLOB))[:-_KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
        return path

    def load_checkpoint(self, path: Path, *, data_hash_hex: str) -> None:
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = json.loads((fh.metadata() or {})[CHECKPOINT_KEY])
            tensors = load_file(str(path))
        except Exception as exc:  # any parse failure: corrupt or foreign file
            raise InsganFileError(
                f"checkpoint {path}: cannot be read as an insgan checkpoint ({type(exc).__name__}: {exc}); "
                "delete it to resume from the previous one"
            ) from None
        old_cfg = dict(meta["config"])
        new_cfg = self.cfg.to_dict()
        changed = sorted(k for k in new_cfg if k not in _RESUME_MAY_CHANGE and old_cfg.get(k) != new_cfg[k])
        if changed:
            raise InsganInputError(
                f"resume: checkpoint {path} was written with a different configuration (fields {changed}); "
                f"use the same settings (only {', '.join(_RESUME_MAY_CHANGE)} may change) or start a new run "
                "without --resume"
            )
        if meta["data_hash"] != data_hash_hex:
            raise InsganInputError(
                f"resume: checkpoint {path} was trained on different data (hash differs); use the same "
                "sources and targets or start a new run"
            )
        for name, net in self.nets.items():
            pre = name + "."
            net.load_state_dict({k[len(pre):]: v.to(self.device) for k, v in tensors.items() if k.startswith(pre)})
        _optimizer_from_flat("optG", self.opt_G, tensors, meta["optG"])
        _optimizer_from_flat("optD", self.opt_D, tensors, meta["optD"])
        if meta["scaler"]:
            self.scaler.load_state_dict(meta["scaler"])
        self.step = int(meta["step"])
        self.history = list(meta["history"])


# --- the entry point --------------------------------------------------------------------------------


def _write_csv(path: Path, history: list[dict]) -> None:
    keys: list[str] = []
    for rec in history:
        keys += [k for k in rec if k not in keys]
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(history)


def _tensorboard_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard not installed: CSV only
        return None
    return SummaryWriter(log_dir=str(log_dir))


def train(
    sources,
    targets,
    config: TrainConfig,
    *,
    output_path,
    checkpoint_dir=None,
    resume: bool = False,
    callback: Callable[[dict], bool | None] | None = None,
    progress: bool = False,
    manifest: dict | None = None,
) -> TrainResult:
    """Train a translation model source → target and write it to ``output_path`` (.safetensors).

    Parameters
    ----------
    sources, targets : MapStack (or INSMap, or list of INSMap)
        Clean simulations and experiment-like maps, signal (N, nx, ne). Paired mode: same length and
        grid, ``targets[i]`` is the artefact version of ``sources[i]``. Unpaired: any numbers (one
        target map is enough); NaN marks bins without data.
    config : TrainConfig
    output_path : str or Path
        Model file written at the end (rank 0 only) with
        :func:`insgan_core.gan.model_file.save_model`.
    checkpoint_dir : str or Path, optional
        Folder for checkpoints (every ``config.checkpoint_every`` steps, the last two kept) and the CSV
        log ``train_log.csv``; default: ``<output stem>_checkpoints`` next to the output.
    resume : bool
        Continue from the latest checkpoint in ``checkpoint_dir`` (same data and configuration; only
        ``steps`` may be raised). Starts from step 0 when there is none.
    callback : callable, optional
        ``callback(record)`` after every step with the step's losses; returning True stops training
        early (the model is still written).
    progress : bool
        Show a tqdm progress bar.
    manifest : dict, optional
        Description of the training data (e.g. a dataset manifest); stored in the model metadata.

    Returns
    -------
    TrainResult

    Raises
    ------
    InsganInputError
        Bad data or configuration (see :func:`validate_training_data`), before any training.

    Notes
    -----
    Paired (pix2pix, Isola et al. 2017): ``L_G = λ_gan·GAN(D(x, G(x))) + λ_L1·|G(x) − y|_covered
    (+ λ_spec·spectral)``, conditional PatchGAN on (x, y). Unpaired (CUT, Park et al. 2020):
    ``L_G = λ_gan·GAN(D(G(x))) + λ_NCE·PatchNCE(x, G(x))`` (+ the identity PatchNCE on target patches),
    unconditional PatchGAN, random patches so a single target map gives many samples.
    """
    from .model_file import save_model

    src, tgt = validate_training_data(sources, targets, config)
    device = resolve_device(config.device)
    ctx = init_distributed(device)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    output_path = Path(output_path)
    if not output_path.parent.is_dir():
        raise InsganInputError(f"output {output_path}: folder {output_path.parent} does not exist; create it first")
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else output_path.with_name(output_path.stem + "_checkpoints")
    hash_hex = data_hash(src, tgt)
    try:
        trainer = _Trainer(src, tgt, config, device=device, ctx=ctx)
        if resume:
            ckpt = latest_checkpoint(ckpt_dir)
            if ckpt is not None:
                trainer.load_checkpoint(ckpt, data_hash_hex=hash_hex)
                log.info("resuming from %s (step %d)", ckpt, trainer.step)
            else:
                log.info("resume: no checkpoint in %s, starting at step 0", ckpt_dir)
        if ctx.is_main:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
        csv_path = ckpt_dir / "train_log.csv"
        tb = _tensorboard_writer(ckpt_dir / "tensorboard") if ctx.is_main else None
        bar = None
        if progress and ctx.is_main:
            from tqdm import tqdm

            bar = tqdm(total=config.steps, initial=trainer.step, desc=f"train ({config.mode})", unit="step")
        t0 = time.perf_counter()
        start_step = trainer.step
        maps_per_step = config.batch_size * ctx.world_size
        while trainer.step < config.steps:
            rec = trainer.train_step()
            if not all(math.isfinite(v) for k, v in rec.items() if k.startswith("loss")):
                raise FloatingPointError(
                    f"training diverged at step {trainer.step} (losses {rec}); lower lr or check the data"
                )
            elapsed = time.perf_counter() - t0
            rec["elapsed_s"] = round(elapsed, 4)
            rec["maps_per_s"] = round(maps_per_step * (trainer.step - start_step) / max(elapsed, 1e-9), 3)
            last = trainer.step == config.steps
            stop = bool(callback(rec)) if callback is not None else False
            if ctx.is_main and (last or stop or (config.log_every and trainer.step % config.log_every == 0)):
                trainer.history.append(rec)
                _write_csv(csv_path, trainer.history)
                if tb is not None:
                    for k, v in rec.items():
                        if k.startswith("loss"):
                            tb.add_scalar(k, v, trainer.step)
            if config.checkpoint_every and trainer.step % config.checkpoint_every == 0 and ctx.is_main:
                trainer.save_checkpoint(ckpt_dir, data_hash_hex=hash_hex)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss_G=f"{rec['loss_G']:.3g}", loss_D=f"{rec['loss_D']:.3g}")
            if stop:
                break
        if bar is not None:
            bar.close()
        if tb is not None:
            tb.close()
        ctx.barrier()
        result = TrainResult(history=trainer.history, generator=trainer.G)
        if ctx.is_main:
            metadata = _model_metadata(trainer, src, tgt, hash_hex=hash_hex, manifest=manifest)
            result.model_path = save_model(output_path, generator=trainer.G, metadata=metadata)
            result.metadata = metadata
        ctx.barrier()
        return result
    finally:
        ctx.close()


def _model_metadata(trainer: _Trainer, src: MapStack, tgt: MapStack, *, hash_hex: str, manifest) -> dict:
    cfg = trainer.cfg
    md0 = src.metadata[0] if src.metadata else None
    tmd = tgt.metadata[0] if tgt.metadata else None
    metrics: dict = {"final_losses": {k: v for k, v in (trainer.history[-1] if trainer.history else {}).items() if k.startswith("loss")}}
    md = {
        "network": dict(cfg.generator),
        "normaliser": trainer.normaliser.to_dict(),
        "grid": {
            "x_edges": src.x_axis.edges.tolist(),
            "x_unit": src.x_axis.unit,
            "e_edges": src.e_axis.edges.tolist(),
            "e_unit": src.e_axis.unit,
        },
        "mode": cfg.mode,
        "instrument": (tmd.instrument if tmd else "") or (md0.instrument if md0 else ""),
        "ei_meV": (tmd.ei_meV if tmd and tmd.ei_meV is not None else (md0.ei_meV if md0 else None)),
        "training": {
            "config": cfg.to_dict(),
            "data_hash": hash_hex,
            "steps": trainer.step,
            "n_sources": len(src),
            "n_targets": len(tgt),
            "world_size": trainer.ctx.world_size,
            "manifest": manifest or {},
        },
        "metrics": metrics,
    }
    if trainer.coverage_mask is not None:
        md["coverage_mask"] = trainer.coverage_mask.tolist()
    k = estimate_count_scale(tgt)
    if k is not None:
        md["count_scale"] = k
    if cfg.mode == "paired":
        # on (a subset of) the training pairs; generalisation must be judged on held-out data
        n_eval = min(len(src), 16)
        model = TranslationModel(trainer.G, md, device=str(trainer.device))
        out = model.apply(MapStack(src.signal[:n_eval], None, src.x_axis, src.e_axis))
        metrics["train_relative_l1"] = relative_l1(out.signal, tgt.signal[:n_eval])
        metrics["train_relative_l1_identity"] = relative_l1(src.signal[:n_eval], tgt.signal[:n_eval])
    return md
