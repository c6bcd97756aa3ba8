"""Training-set generation: parameter sweeps → paired (clean, with-artefacts) maps in sharded HDF5 files.

Layout of an output folder::

    manifest.json        everything needed to regenerate the set exactly (config, grid, instrument
                         settings, every sample's parameters and seed, shard list, package versions)
    shard_00000.h5       clean/signal, clean/error, artefact/signal, artefact/error  (N, nq, ne)
    shard_00001.h5       q_edges (nq+1,), e_edges (ne+1,), indices (N,), attrs: config_hash, parameters
    ...

Every shard is written to a temporary file in the same folder and renamed when complete, so a killed
run never leaves a half-written file that looks valid; rerunning with the same config skips the shards
already present (checked by their config hash) and redoes the others. The same config always gives
bit-identical shards (every sample's parameters and noise come from ``(seed, index)``).

Config (YAML file or dict)::

    seed: 1234                      # master seed
    n_samples: 16
    shard_size: 4
    grid: {q_bins: "0.2,0.05,5.0", e_bins: "-10,0.5,55"}     # or q_edges / e_edges lists
    model:
      name: fm_chain                # spin-wave library name or model YAML path
      parameters:                   # fixed value, or a distribution:
        J1: {uniform: [1.0, 3.0]}   #   uniform / log_uniform [lo, hi], normal [mean, sd], choice [a, b, ...]
    temperature_K: 5.0              # number or distribution
    powder: {n_directions: 200}     # extra options of insgan_core.spinwave.powder_map
    instrument: {instrument: MERLIN, ei_meV: 62, chopper_package: G, chopper_frequency_hz: 250}
    artefacts: {steps: [resolution, background, coverage, noise], noise: {count_scale: 100}}
    artefact_parameters:            # swept artefact parameters (dotted names, see ArtefactConfig.with_parameters)
      noise.count_scale: {log_uniform: [10, 1000]}
    method: analytic                # or montecarlo
    detectors: null                 # NXSPE file for the detector coverage (relative to the config file)
    scheduler: null                 # dask scheduler address, or "local-cluster"; not part of the manifest
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from .._version import __version__
from ..data.grid import Axis, parse_binning
from ..data.ins_map import INSMap, MapMetadata, MapStack
from ..data.io._atomic import atomic_path
from ..errors import InsganFileError, InsganInputError
from .pipeline import METHODS, ArtefactConfig, apply_artefacts
from .settings import InstrumentSettings

__all__ = [
    "FORMAT_VERSION",
    "DISTRIBUTIONS",
    "read_dataset_config",
    "plan_dataset",
    "generate_dataset",
    "load_dataset",
    "ShardFailedError",
]

log = logging.getLogger("insgan")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: distribution name -> number of parameters
DISTRIBUTIONS = {"uniform": 2, "log_uniform": 2, "normal": 2, "choice": None}
_TOP_KEYS = {
    "seed", "n_samples", "shard_size", "grid", "model", "temperature_K", "powder", "instrument",
    "artefacts", "artefact_parameters", "method", "detectors", "name", "description", "scheduler",
}
#: ``scheduler`` value that starts a dask LocalCluster (worker processes on this machine) for one run
LOCAL_CLUSTER = "local-cluster"


class ShardFailedError(RuntimeError):
    """One or more shards failed after all retries; the message lists them with their errors."""


# --- configuration --------------------------------------------------------------------------------
def read_dataset_config(config) -> tuple[dict, Path | None]:
    """Read a dataset config from a YAML/JSON file or take a dict; returns (dict, folder of the file)."""
    if isinstance(config, dict):
        return json.loads(json.dumps(config)), None
    path = Path(config)
    if not path.is_file():
        raise InsganFileError(f"{path}: dataset config file not found")
    from insgan_core.data.io.yaml_file import load_yaml

    data = load_yaml(path, what="dataset config")  # size, depth and alias limits; never runs Python tags
    if not isinstance(data, dict):
        raise InsganFileError(f"{path}: expected a mapping of config keys at the top level")
    return data, path.resolve().parent


def _check_distribution(name: str, spec):
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return
    if not isinstance(spec, dict) or len(spec) != 1:
        raise InsganInputError(
            f"dataset config: parameter {name!r} must be a number or one distribution such as "
            f"{{uniform: [lo, hi]}}, got {spec!r}"
        )
    (kind, args), = spec.items()
    if kind not in DISTRIBUTIONS:
        raise InsganInputError(
            f"dataset config: parameter {name!r} uses unknown distribution {kind!r}; choose one of {', '.join(DISTRIBUTIONS)}"
        )
    n = DISTRIBUTIONS[kind]
    if not isinstance(args, (list, tuple)) or (n is not None and len(args) != n) or len(args) == 0:
        raise InsganInputError(f"dataset config: {name}: {kind} needs a list of {n or 'one or more'} values, got {args!r}")
    if kind in ("uniform", "log_uniform") and not args[0] <= args[1]:
        raise InsganInputError(f"dataset config: {name}: {kind} needs lo <= hi, got {args}")
    if kind == "log_uniform" and args[0] <= 0:
        raise InsganInputError(f"dataset config: {name}: log_uniform needs lo > 0, got {args}")
    if kind == "normal" and args[1] < 0:
        raise InsganInputError(f"dataset config: {name}: normal needs sd >= 0, got {args}")


def _draw(spec, rng: np.random.Generator):
    if not isinstance(spec, dict):
        return float(spec)
    (kind, args), = spec.items()
    if kind == "uniform":
        return float(rng.uniform(args[0], args[1]))
    if kind == "log_uniform":
        return float(np.exp(rng.uniform(np.log(args[0]), np.log(args[1]))))
    if kind == "normal":
        return float(rng.normal(args[0], args[1]))
    return args[int(rng.integers(len(args)))]


def _grid(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    grid = cfg.get("grid")
    if not isinstance(grid, dict):
        raise InsganInputError("dataset config: 'grid' must give q_bins ('start,step,end') or q_edges, and e_bins or e_edges")
    unknown = set(grid) - {"q_bins", "e_bins", "q_edges", "e_edges"}
    if unknown:
        raise InsganInputError(f"dataset config: grid has unknown key(s) {sorted(unknown)}; expected q_bins/q_edges, e_bins/e_edges")
    out = []
    for axis, unit in (("q", "MomentumTransfer"), ("e", "DeltaE")):
        if f"{axis}_edges" in grid:
            edges = Axis(np.asarray(grid[f"{axis}_edges"], dtype=float), unit).edges
        elif f"{axis}_bins" in grid:
            edges = parse_binning(grid[f"{axis}_bins"], name=f"grid.{axis}_bins")
        else:
            raise InsganInputError(f"dataset config: grid needs {axis}_bins or {axis}_edges")
        out.append(np.asarray(edges, dtype=float))
    if out[0][0] < 0:
        raise InsganInputError(f"dataset config: grid |Q| edges must be >= 0, start is {out[0][0]}")
    return out[0], out[1]


def _resolve_path(value, base: Path | None) -> str | None:
    if value in (None, ""):
        return None
    p = Path(value)
    if not p.is_absolute() and base is not None:
        p = base / p
    if not p.is_file():
        raise InsganFileError(f"{p}: detector file named in the dataset config ('detectors') not found")
    return str(p)


def plan_dataset(config) -> dict:
    """Validate a dataset config and draw every sample's parameters (no maps computed).

    Parameters
    ----------
    config : str, Path or dict
        See the module docstring.

    Returns
    -------
    dict
        The manifest without versions: ``config`` (normalised), ``grid``, ``instrument``, ``samples``
        (index, seed, model_parameters, artefact_parameters, temperature_K), ``shards`` and
        ``config_hash``.

    Raises
    ------
    InsganInputError
        Unknown keys, unknown model or artefact parameters, bad distributions, grids, settings or files,
        before any work starts.
    """
    cfg, base = read_dataset_config(config)
    unknown = set(cfg) - _TOP_KEYS
    if unknown:
        raise InsganInputError(f"dataset config: unknown key(s) {sorted(unknown)}; expected some of {sorted(_TOP_KEYS)}")
    try:
        seed = int(cfg.get("seed", 0))
        n_samples = int(cfg.get("n_samples", 1))
        shard_size = int(cfg.get("shard_size", 8))
    except (TypeError, ValueError):
        raise InsganInputError("dataset config: seed, n_samples and shard_size must be integers") from None
    if n_samples < 1 or shard_size < 1:
        raise InsganInputError(f"dataset config: n_samples and shard_size must be >= 1, got {n_samples} and {shard_size}")
    q_edges, e_edges = _grid(cfg)
    settings = InstrumentSettings.from_dict(dict(cfg.get("instrument") or {}))
    if e_edges[0] >= settings.ei_meV:
        raise InsganInputError(f"dataset config: the energy grid starts at {e_edges[0]} meV, above Ei = {settings.ei_meV} meV")
    artefacts = ArtefactConfig.from_dict(cfg.get("artefacts"))
    method = cfg.get("method", "analytic")
    if method not in METHODS:
        raise InsganInputError(f"dataset config: method must be one of {', '.join(METHODS)}, got {method!r}")
    art_params = dict(cfg.get("artefact_parameters") or {})
    for name, spec in art_params.items():
        _check_distribution(f"artefact_parameters.{name}", spec)
    # checks the dotted names against the artefact config (unknown names raise)
    artefacts.with_parameters({k: _draw(v, np.random.default_rng(0)) for k, v in art_params.items()})

    model_cfg = dict(cfg.get("model") or {})
    unknown = set(model_cfg) - {"name", "parameters"}
    if unknown or "name" not in model_cfg:
        raise InsganInputError(
            f"dataset config: 'model' needs 'name' (library name or YAML path) and optional 'parameters'; got keys {sorted(model_cfg)}"
        )
    model_name = str(model_cfg["name"])
    if base is not None and (base / model_name).is_file():
        model_name = str(base / model_name)
    model_params = dict(model_cfg.get("parameters") or {})
    from ..spinwave import load_model

    model = load_model(model_name)
    known = set(model.parameters)
    bad = sorted(set(model_params) - known)
    if bad:
        raise InsganInputError(
            f"dataset config: model {model_cfg['name']!r} has no parameter(s) {bad}; its parameters are {sorted(known)}"
        )
    for name, spec in model_params.items():
        _check_distribution(f"model.parameters.{name}", spec)
    temperature = cfg.get("temperature_K", 5.0)
    _check_distribution("temperature_K", temperature)
    powder = dict(cfg.get("powder") or {})
    import inspect

    from ..spinwave import powder_map

    allowed = set(inspect.signature(powder_map).parameters) - {"model", "q_edges", "e_edges", "temperature_K", "seed"}
    bad = sorted(set(powder) - allowed)
    if bad:
        raise InsganInputError(f"dataset config: powder has unknown option(s) {bad}; options of spinwave.powder_map are {sorted(allowed)}")
    detectors = _resolve_path(cfg.get("detectors"), base)
    if detectors is not None:
        from ..data.io import load_nxspe
        from .coverage import check_detector_table

        check_detector_table(load_nxspe(detectors), ei_meV=settings.ei_meV, source=detectors)

    samples = []
    for index in range(n_samples):
        rng = np.random.default_rng([seed, index])
        mp = {name: _draw(model_params[name], rng) for name in sorted(model_params)}
        ap = {name: _draw(art_params[name], rng) for name in sorted(art_params)}
        t = _draw(temperature, rng)
        if not (np.isfinite(t) and t >= 0):
            raise InsganInputError(f"dataset config: sample {index} drew temperature_K = {t}; keep temperatures >= 0 K")
        samples.append({
            "index": index,
            "seed": int(rng.integers(2**31 - 1)),
            "model_parameters": mp,
            "artefact_parameters": ap,
            "temperature_K": float(t),
        })
    normalised = {
        "seed": seed,
        "n_samples": n_samples,
        "shard_size": shard_size,
        "model": {"name": model_name, "parameters": model_params},
        "temperature_K": temperature,
        "powder": powder,
        "instrument": settings.to_dict(),
        "artefacts": artefacts.to_dict(),
        "artefact_parameters": art_params,
        "method": method,
        "detectors": detectors,
    }
    shards = [
        {"file": f"shard_{k:05d}.h5", "indices": list(range(i, min(i + shard_size, n_samples)))}
        for k, i in enumerate(range(0, n_samples, shard_size))
    ]
    plan = {
        "format_version": FORMAT_VERSION,
        "config": normalised,
        "grid": {"q_edges": q_edges.tolist(), "q_unit": "MomentumTransfer", "e_edges": e_edges.tolist(), "e_unit": "DeltaE"},
        "instrument": settings.to_dict(),
        "samples": samples,
        "shards": shards,
    }
    plan["config_hash"] = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    return plan


def _versions() -> dict:
    import h5py
    import scipy

    try:
        from importlib.metadata import version

        resins_version = version("resins")
    except Exception:  # pragma: no cover - resins always installed with insgan
        resins_version = "unknown"
    return {
        "insgan": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "h5py": h5py.__version__,
        "resins": resins_version,
        "python": platform.python_version(),
    }


# --- one shard ------------------------------------------------------------------------------------
def _compute_sample(plan: dict, sample: dict, detectors) -> tuple[INSMap, INSMap]:
    from ..spinwave import load_model, powder_map

    cfg = plan["config"]
    settings = InstrumentSettings.from_dict(plan["instrument"])
    artefacts = ArtefactConfig.from_dict(cfg["artefacts"]).with_parameters(sample["artefact_parameters"])
    model = load_model(cfg["model"]["name"], overrides=sample["model_parameters"] or None)
    q_edges = np.asarray(plan["grid"]["q_edges"])
    e_edges = np.asarray(plan["grid"]["e_edges"])
    # Shards are the unit of parallelism (processes or dask workers): one solver thread per shard, so
    # N workers never start N x cpu_count threads. A config may still set powder.workers explicitly.
    powder = {"workers": 1, **cfg["powder"]}
    clean = powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=sample["temperature_K"],
                       seed=sample["seed"], **powder)
    clean.metadata.instrument = settings.instrument
    clean.metadata.ei_meV = settings.ei_meV
    clean.metadata.temperature_K = sample["temperature_K"]
    artefact = apply_artefacts(clean, settings=settings, config=artefacts, detectors=detectors, seed=sample["seed"],
                               method=cfg["method"])
    return clean, artefact


def _shard_is_complete(path: Path, config_hash: str) -> bool:
    import h5py

    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", 0)) and f.attrs.get("config_hash", "") == config_hash
    except (OSError, KeyError):
        return False


def _run_shard(plan: dict, shard_number: int, output_dir: str) -> str:
    """Compute one shard and write it atomically; returns its file name. Runs in worker processes."""
    import h5py

    shard = plan["shards"][shard_number]
    detectors = None
    if plan["config"]["detectors"]:
        from ..data.io import load_nxspe

        detectors = load_nxspe(plan["config"]["detectors"])
    pairs = [_compute_sample(plan, plan["samples"][i], detectors) for i in shard["indices"]]
    target = Path(output_dir) / shard["file"]
    with atomic_path(target) as tmp:
        with h5py.File(tmp, "w", libver=("earliest", "v110"), track_order=False) as f:
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["config_hash"] = plan["config_hash"]
            f.attrs["shard"] = shard_number
            f.attrs["parameters"] = json.dumps([plan["samples"][i] for i in shard["indices"]], sort_keys=True)
            f.create_dataset("indices", data=np.asarray(shard["indices"], dtype=np.int64), track_times=False)
            f.create_dataset("q_edges", data=np.asarray(plan["grid"]["q_edges"]), track_times=False)
            f.create_dataset("e_edges", data=np.asarray(plan["grid"]["e_edges"]), track_times=False)
            for which, k in (("clean", 0), ("artefact", 1)):
                g = f.create_group(which, track_order=False)
                g.create_dataset("signal", data=np.stack([p[k].signal for p in pairs]), track_times=False)
                g.create_dataset("error", data=np.stack([p[k].error for p in pairs]), track_times=False)
            f.attrs["complete"] = 1  # last: a file without it is never taken as finished
    return shard["file"]


# --- driver ---------------------------------------------------------------------------------------
def _write_manifest(plan: dict, output_dir: Path) -> None:
    path = output_dir / MANIFEST
    if path.is_file():
        try:
            existing = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise InsganFileError(f"{path}: existing manifest is not valid JSON; remove the folder or choose another") from None
        if existing.get("config_hash") != plan["config_hash"]:
            raise InsganInputError(
                f"{output_dir}: already holds a dataset made from a different config (config_hash "
                f"{existing.get('config_hash', '?')[:12]} vs {plan['config_hash'][:12]}); choose a new output folder"
            )
        return
    manifest = dict(plan, versions=_versions())
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1, sort_keys=True))


def generate_dataset(
    config,
    output_dir,
    *,
    scheduler=None,
    progress: bool = True,
    workers: int | None = None,
    retries: int = 2,
    max_shards: int | None = None,
) -> dict:
    """Generate (or resume) a paired training set.

    Parameters
    ----------
    config : str, Path or dict
        Dataset config (module docstring); validated completely before any map is computed.
    output_dir : str or Path
        Created if needed. A folder with a manifest from the same config is resumed: finished shards are
        kept, missing or incomplete ones recomputed; a different config there is refused.
    scheduler : str, dask.distributed.Client or None
        Address of a dask.distributed scheduler (``"tcp://host:8786"``) or a Client: shards run on that
        cluster; ``"local-cluster"`` starts a dask LocalCluster of ``workers`` processes for this run.
        None: the config's ``scheduler`` key, else local processes (``workers`` of them; 1 runs in
        this process).
    progress : bool
        Show a tqdm progress bar over shards.
    workers : int or None
        Local worker processes (default: number of CPU cores, at most the number of shards to do).
    retries : int
        Times a failed shard is resubmitted before it is reported as failed.
    max_shards : int or None
        Compute at most this many missing shards in this call (incremental generation); None: all.

    Returns
    -------
    dict
        The manifest (as written to ``manifest.json``) plus ``"done"``: shard files written by this call.

    Raises
    ------
    ShardFailedError
        When shards still fail after ``retries``; the finished ones stay valid and a rerun resumes.
    """
    plan = plan_dataset(config)
    if scheduler is None:
        scheduler = read_dataset_config(config)[0].get("scheduler")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(plan, output_dir)
    for stale in output_dir.glob(".shard_*.tmp"):  # temporary files left by a killed run
        stale.unlink(missing_ok=True)
    todo = [k for k, s in enumerate(plan["shards"]) if not _shard_is_complete(output_dir / s["file"], plan["config_hash"])]
    skipped = len(plan["shards"]) - len(todo)
    if skipped:
        log.info("resuming %s: %d of %d shards already complete", output_dir, skipped, len(plan["shards"]))
    if max_shards is not None:
        todo = todo[: max(0, int(max_shards))]
    from tqdm import tqdm

    bar = tqdm(total=len(plan["shards"]), initial=skipped, desc="shards", unit="shard", disable=not progress)
    done, failures = [], {}
    try:
        if scheduler == LOCAL_CLUSTER and todo:
            from dask.distributed import LocalCluster

            n = min(workers or os.cpu_count() or 1, len(todo))
            quiet = logging.getLogger("distributed")
            level = quiet.level
            quiet.setLevel(logging.WARNING)  # the cluster's start/stop chatter is not news to the user
            try:
                with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                    _run_dask(plan, todo, output_dir, cluster.scheduler_address, retries, bar, done, failures)
            finally:
                quiet.setLevel(level)
        elif scheduler is not None and scheduler != LOCAL_CLUSTER:
            _run_dask(plan, todo, output_dir, scheduler, retries, bar, done, failures)
        elif (workers if workers is not None else (os.cpu_count() or 1)) <= 1 or len(todo) <= 1:
            _run_serial(plan, todo, output_dir, retries, bar, done, failures)
        else:
            _run_local_pool(plan, todo, output_dir, workers, retries, bar, done, failures)
    finally:
        bar.close()
    if failures:
        lines = "; ".join(f"{plan['shards'][k]['file']}: {msg}" for k, msg in sorted(failures.items()))
        raise ShardFailedError(
            f"{len(failures)} shard(s) failed after {retries} retries ({lines}); the other shards are complete — "
            f"rerun the same command to resume"
        )
    manifest = json.loads((output_dir / MANIFEST).read_text())
    manifest["done"] = done
    return manifest


def _settle(k, result, attempts, retries, bar, done, failures, *, where: str = "") -> bool:
    """Book one attempt at shard ``k``; ``result()`` returns the shard's file name or raises.

    A success is recorded in ``done``; a failure is reported and kept in ``failures``. Bad input
    (:class:`InsganInputError`) is never retried. Returns True when the shard should be run again.
    """
    try:
        done.append(result())
    except InsganInputError:
        raise
    except Exception as exc:  # reported and retried
        attempts[k] += 1
        failures[k] = f"{type(exc).__name__}: {exc}"
        log.warning("shard %d failed%s (attempt %d of %d): %s", k, where, attempts[k], retries + 1, failures[k])
        return attempts[k] <= retries
    failures.pop(k, None)
    bar.update(1)
    return False


def _run_serial(plan, todo, output_dir, retries, bar, done, failures):
    attempts = {k: 0 for k in todo}
    for k in todo:
        while _settle(k, lambda: _run_shard(plan, k, str(output_dir)), attempts, retries, bar, done, failures):
            pass


def _run_local_pool(plan, todo, output_dir, workers, retries, bar, done, failures):
    import multiprocessing

    n = min(workers or os.cpu_count() or 1, len(todo))
    attempts = {k: 0 for k in todo}
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(_run_shard, plan, k, str(output_dir)): k for k in todo}
        while pending:
            for fut in as_completed(list(pending)):
                k = pending.pop(fut)
                if _settle(k, fut.result, attempts, retries, bar, done, failures):
                    pending[pool.submit(_run_shard, plan, k, str(output_dir))] = k
                break  # re-enter as_completed with the updated pending set


def _run_dask(plan, todo, output_dir, scheduler, retries, bar, done, failures):
    from dask.distributed import Client, as_completed as dask_completed

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    try:
        attempts = {k: 0 for k in todo}
        futures = {client.submit(_run_shard, plan, k, str(output_dir), pure=False): k for k in todo}
        queue = dask_completed(list(futures))
        for fut in queue:
            k = futures.pop(fut)
            if _settle(k, fut.result, attempts, retries, bar, done, failures, where=" on the cluster"):
                new = client.submit(_run_shard, plan, k, str(output_dir), pure=False)
                futures[new] = k
                queue.add(new)
    finally:
        if own:
            client.close()


# --- reading ----------------------------------------------------------------------------------------
def load_dataset(output_dir) -> tuple[MapStack, MapStack, dict]:
    """Read a generated dataset.

    Parameters
    ----------
    output_dir : str or Path
        Folder written by :func:`generate_dataset`.

    Returns
    -------
    (clean, artefact, manifest) : (MapStack, MapStack, dict)
        Stacks of shape (n_samples, nq, ne) in sample order; each map's metadata carries its sample
        record in ``provenance["sample"]``.

    Raises
    ------
    InsganFileError
        Missing manifest, or shards missing or incomplete (the message says to resume generation).
    """
    import h5py

    output_dir = Path(output_dir)
    path = output_dir / MANIFEST
    if not path.is_file():
        raise InsganFileError(f"{output_dir}: no {MANIFEST}; is this a folder written by 'insgan make-dataset'?")
    manifest = json.loads(path.read_text())
    missing = [s["file"] for s in manifest["shards"] if not _shard_is_complete(output_dir / s["file"], manifest["config_hash"])]
    if missing:
        raise InsganFileError(
            f"{output_dir}: {len(missing)} shard(s) missing or incomplete ({', '.join(missing[:5])}...); rerun "
            f"generation with the same config to finish it"
        )
    blocks = {"clean": ([], []), "artefact": ([], [])}
    for s in manifest["shards"]:
        with h5py.File(output_dir / s["file"], "r") as f:
            for which, (sig, err) in blocks.items():
                sig.append(f[which]["signal"][()])
                err.append(f[which]["error"][()])
    x_axis = Axis(np.asarray(manifest["grid"]["q_edges"]), manifest["grid"]["q_unit"])
    e_axis = Axis(np.asarray(manifest["grid"]["e_edges"]), manifest["grid"]["e_unit"])
    settings = manifest["instrument"]
    stacks = []
    for which, (sig, err) in blocks.items():
        meta = [
            MapMetadata(
                instrument=settings["instrument"],
                ei_meV=settings["ei_meV"],
                temperature_K=sample["temperature_K"],
                sample=manifest["config"]["model"]["name"],
                provenance={"dataset": str(output_dir), "kind": which, "sample": sample},
            )
            for sample in manifest["samples"]
        ]
        stacks.append(MapStack(np.concatenate(sig), np.concatenate(err), x_axis, e_axis, meta))
    return stacks[0], stacks[1], manifest
