"""Mutations of NXSPE and processed-NeXus files for fuzzing, and a harness that runs the command line
in-process and classifies the outcome.

Two kinds of mutation:

* *semantic* ones break a physical rule on purpose (2θ of 400°, ±inf intensities, a negative error,
  repeated energies, a complex or text field, wrong lengths, Ei <= 0...). The file is corrupt by
  construction: insgan must refuse it (exit 2, a message naming the file).
* *byte* ones (truncation, flipped bytes, zeroed blocks) may or may not break the file. insgan may
  refuse it or accept it; when it writes an output, the output must load and hold finite bins.

Used by tests/test_fuzz_inputs.py (a few derandomized hypothesis examples) and tests/fuzz/campaign.py
(thousands of examples, not run in CI).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

__all__ = [
    "NXSPE_SEMANTIC",
    "NXSPE_BYTES",
    "MAP_SEMANTIC",
    "MAP_BYTES",
    "mutate_nxspe",
    "mutate_map",
    "run_cli",
    "Outcome",
]

# --- NXSPE ----------------------------------------------------------------------------------------


def _entry(f: h5py.File) -> h5py.Group:
    for name in f:
        obj = f[name]
        if isinstance(obj, h5py.Group) and "data" in obj and "NXSPE_info" in obj:
            return obj
    raise LookupError("no NXSPE entry")


def _set_element(ds: h5py.Dataset, value, rng) -> None:
    a = ds[()]
    a = np.array(a, dtype=np.float64)
    flat = a.reshape(-1)
    flat[rng.integers(flat.size)] = value
    ds[...] = a


def _replace(group: h5py.Group, name: str, data) -> None:
    attrs = dict(group[name].attrs)
    del group[name]
    ds = group.create_dataset(name, data=data)
    for k, v in attrs.items():
        ds.attrs[k] = v


def _as_complex(a):
    return np.asarray(a, dtype=np.float64) + 0.5j


def _as_compound(a):
    a = np.asarray(a, dtype=np.float64)
    out = np.zeros(a.shape, dtype=[("x", "<f8"), ("y", "<f8")])
    out["x"] = a
    return out


def _as_text(a):
    return np.char.encode(np.asarray(a).astype(str).astype("U24"), "ascii")


_NXSPE_FIELDS = ("data/data", "data/error", "data/energy", "data/polar", "data/polar_width", "data/azimuthal",
                 "data/azimuthal_width", "data/distance", "NXSPE_info/fixed_energy")


def _semantic_nxspe(e: h5py.Group, kind: str, rng) -> None:
    d = e["data"]
    pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731
    if kind == "signal_inf":
        _set_element(d["data"], pick([np.inf, -np.inf]), rng)
    elif kind == "error_bad":
        _set_element(d["error"], pick([-1.0, -1e-3, np.inf, -np.inf]), rng)
    elif kind == "polar_bad":
        _set_element(d["polar"], pick([-30.0, 400.0, 180.5, np.nan, np.inf, -np.inf, 1e300]), rng)
    elif kind == "polar_width_bad":
        _set_element(d["polar_width"], pick([np.inf, -1.0, np.nan, 1e6, -np.inf]), rng)
    elif kind == "azimuthal_bad":
        _set_element(d["azimuthal"], pick([np.inf, np.nan, -np.inf]), rng)
    elif kind == "azimuthal_width_bad":
        _set_element(d["azimuthal_width"], pick([np.inf, -5.0, np.nan]), rng)
    elif kind == "distance_bad":
        _set_element(d["distance"], pick([0.0, -2.5, np.inf, np.nan, 1e9]), rng)
    elif kind == "ei_bad":
        e["NXSPE_info/fixed_energy"][...] = pick([0.0, -62.0, np.nan, np.inf, 1e300, -np.inf])
    elif kind == "energy_repeat":
        a = d["energy"][()].astype(np.float64)
        i = rng.integers(1, a.size)
        a[i] = a[i - 1]
        d["energy"][...] = a
    elif kind == "energy_reverse":
        d["energy"][...] = d["energy"][()][::-1]
    elif kind == "energy_nonfinite":
        _set_element(d["energy"], pick([np.nan, np.inf, -np.inf]), rng)
    elif kind == "dtype_complex":
        name = pick(_NXSPE_FIELDS)
        grp, leaf = name.split("/")
        _replace(e[grp], leaf, _as_complex(e[name][()]))
    elif kind == "dtype_compound":
        name = pick(_NXSPE_FIELDS)
        grp, leaf = name.split("/")
        _replace(e[grp], leaf, _as_compound(e[name][()]))
    elif kind == "dtype_text":
        name = pick(_NXSPE_FIELDS)
        grp, leaf = name.split("/")
        _replace(e[grp], leaf, _as_text(e[name][()]))
    elif kind == "length_short":
        # energy loses 2 values: one less would be the (valid) bin-centre form
        name = pick(["polar", "polar_width", "azimuthal", "azimuthal_width", "distance", "energy"])
        _replace(d, name, d[name][()][: -2 if name == "energy" else -1])
    elif kind == "length_long":
        name = pick(["polar", "polar_width", "azimuthal", "azimuthal_width", "distance", "energy"])
        a = d[name][()]
        # energy gains 2 values: one more may be the (valid) bin-edge form of a file that stores centres
        _replace(d, name, np.concatenate([a, a[-1:] + 1.0] + ([a[-1:] + 2.0] if name == "energy" else [])))
    elif kind == "error_shape":
        _replace(d, "error", d["error"][()][:, :-1])
    elif kind == "transpose":
        # (ne, ndet) instead of (ndet, ne), as a producer that wrote the wrong orientation
        _replace(d, "data", d["data"][()].T.copy())
        _replace(d, "error", d["error"][()].T.copy())
        d["data"].attrs["axes"] = np.bytes_(b"energy:polar")
    elif kind == "delete_field":
        name = pick(["data/data", "data/error", "data/energy", "data/polar", "NXSPE_info/fixed_energy", "definition",
                     "NXSPE_info", "data"])
        del e[name]
    elif kind == "all_nan":
        d["data"][...] = np.nan
    elif kind == "ki_kf_bad":
        _replace(e["NXSPE_info"], "ki_over_kf_scaling", np.array([pick([7, -1, 2])], dtype=np.int32))
    elif kind == "units_bad":
        d["energy"].attrs["units"] = pick([b"THz", b"K", b"cm^-1"])
    elif kind == "definition_bad":
        _replace(e, "definition", np.array([pick([b"NXTOFRAW", b"", b"NXSPEC"])]))
    elif kind == "energy_beyond_ei":
        ei = float(np.asarray(e["NXSPE_info/fixed_energy"][()]).reshape(-1)[0])
        a = d["energy"][()].astype(np.float64)
        d["energy"][...] = a - a[0] + ei + 1.0
    elif kind == "empty":
        _replace(d, "data", np.zeros((0, d["data"].shape[1])))
    elif kind == "data_1d":
        _replace(d, "data", d["data"][()].reshape(-1))
    else:
        raise ValueError(kind)


NXSPE_SEMANTIC = (
    "signal_inf", "error_bad", "polar_bad", "polar_width_bad", "azimuthal_bad", "azimuthal_width_bad", "distance_bad",
    "ei_bad", "energy_repeat", "energy_reverse", "energy_nonfinite", "dtype_complex", "dtype_compound", "dtype_text",
    "length_short", "length_long", "error_shape", "transpose", "delete_field", "all_nan", "ki_kf_bad", "units_bad",
    "definition_bad", "energy_beyond_ei", "empty", "data_1d",
)
NXSPE_BYTES = ("truncate", "flip_bytes", "zero_block", "flip_header")


def _byte_mutation(path: Path, kind: str, rng) -> None:
    data = bytearray(path.read_bytes())
    n = len(data)
    if kind == "truncate":
        data = data[: int(rng.integers(0, n))]
    elif kind == "flip_bytes":
        for _ in range(int(rng.integers(1, 64))):
            data[int(rng.integers(n))] ^= int(rng.integers(1, 256))
    elif kind == "zero_block":
        start = int(rng.integers(n))
        end = min(n, start + int(rng.integers(1, 4096)))
        data[start:end] = bytes(end - start)
    elif kind == "flip_header":  # the first 4 KiB: superblock, root group, object headers
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(min(n, 4096)))] ^= int(rng.integers(1, 256))
    else:
        raise ValueError(kind)
    path.write_bytes(bytes(data))


def mutate_nxspe(src: Path, dst: Path, kind: str, seed: int) -> bool:
    """Copy ``src`` to ``dst`` and apply mutation ``kind``; returns True when the result is corrupt by
    construction (a semantic mutation), False when it may still be a valid file (byte mutations)."""
    rng = np.random.default_rng(seed)
    shutil.copyfile(src, dst)
    if kind in NXSPE_BYTES:
        _byte_mutation(dst, kind, rng)
        return False
    with h5py.File(dst, "r+") as f:
        _semantic_nxspe(_entry(f), kind, rng)
    return True


# --- processed NeXus maps -------------------------------------------------------------------------

MAP_SEMANTIC = (
    "values_inf", "errors_bad", "axis1_repeat", "axis1_nonfinite", "axis2_reverse", "axis2_nonfinite", "axis_units_bad",
    "dtype_complex", "dtype_compound", "dtype_text", "shape_mismatch", "errors_shape", "all_nan", "delete_field",
    "ei_log_bad", "metadata_json_bad", "values_3d", "q_negative",
)
MAP_BYTES = NXSPE_BYTES


def _semantic_map(f: h5py.File, kind: str, rng) -> None:
    ws = f["mantid_workspace_1/workspace"]
    pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731
    if kind == "values_inf":
        _set_element(ws["values"], pick([np.inf, -np.inf]), rng)
    elif kind == "errors_bad":
        _set_element(ws["errors"], pick([-1.0, np.inf]), rng)
    elif kind == "axis1_repeat":
        a = ws["axis1"][()].astype(np.float64)
        i = rng.integers(1, a.size)
        a[i] = a[i - 1]
        ws["axis1"][...] = a
    elif kind == "axis1_nonfinite":
        _set_element(ws["axis1"], pick([np.nan, np.inf]), rng)
    elif kind == "axis2_reverse":
        ws["axis2"][...] = ws["axis2"][()][::-1]
    elif kind == "axis2_nonfinite":
        _set_element(ws["axis2"], pick([np.nan, -np.inf]), rng)
    elif kind == "axis_units_bad":
        # X must be energy transfer; any numeric vertical axis is a valid map, so only axis1 is broken
        ws["axis1"].attrs["units"] = pick([np.bytes_(b"TOF"), np.bytes_(b"Wavelength"), np.bytes_(b"MomentumTransfer")])
    elif kind in ("dtype_complex", "dtype_compound", "dtype_text"):
        conv = {"dtype_complex": _as_complex, "dtype_compound": _as_compound, "dtype_text": _as_text}[kind]
        name = pick(["values", "errors", "axis1", "axis2"])
        _replace(ws, name, conv(ws[name][()]))
    elif kind == "shape_mismatch":
        name = pick(["axis1", "axis2"])
        _replace(ws, name, ws[name][()][:-2])
    elif kind == "errors_shape":
        _replace(ws, "errors", ws["errors"][()][:-1])
    elif kind == "all_nan":
        ws["values"][...] = np.nan
    elif kind == "delete_field":
        del ws[pick(["values", "errors", "axis1"])]
    elif kind == "ei_log_bad":
        ei = f["mantid_workspace_1/logs/Ei/value"]
        ei[...] = pick([-5.0, 0.0, np.inf, 1e300])
    elif kind == "metadata_json_bad":
        g = f["mantid_workspace_1/logs/insgan_metadata"]
        del g["value"]
        g.create_dataset("value", data=np.array([pick([
            b'{"metadata": {"ei_meV": -3}}', b'{"metadata": {"temperature_K": "hot"}}',
            b'{"x_tick_labels": [[1]]}', b'{"metadata": {"ei_meV": 1e400}}',
        ])]))
    elif kind == "values_3d":
        _replace(ws, "values", ws["values"][()][None])
    elif kind == "q_negative":
        a = ws["axis2"][()].astype(np.float64)
        ws["axis2"][...] = a - a[-1] + (a[-1] - a[0]) * 0.25 - 5.0
    else:
        raise ValueError(kind)


def mutate_map(src: Path, dst: Path, kind: str, seed: int) -> bool:
    """As :func:`mutate_nxspe` for an insgan-written processed NeXus S(|Q|,E) map."""
    rng = np.random.default_rng(seed)
    shutil.copyfile(src, dst)
    if kind in MAP_BYTES:
        _byte_mutation(dst, kind, rng)
        return False
    with h5py.File(dst, "r+") as f:
        _semantic_map(f, kind, rng)
    return True


# --- running the command line ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one in-process command line did."""

    code: int | None  # exit code; None when an exception escaped main()
    stderr: str
    seconds: float
    exception: str = ""  # the escaped exception (a traceback for a user)
    timed_out: bool = False

    @property
    def traceback(self) -> bool:
        return self.code is None or "Traceback (most recent call last)" in self.stderr

    @property
    def internal(self) -> bool:
        # "internal error": this insgan; "run with --debug for the traceback": the raw exception text of older ones
        return "internal error" in self.stderr or "run with --debug for the traceback" in self.stderr


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def run_cli(argv: list[str], *, timeout_s: float = 60.0) -> Outcome:
    """Run ``insgan argv`` in this process (stdout discarded, stderr captured), with a wall-clock limit
    (SIGALRM, main thread only)."""
    from insgan_core.cli.main import main

    err, out = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(argv))
        return Outcome(code, err.getvalue(), time.perf_counter() - t0)
    except _Timeout:
        return Outcome(None, err.getvalue(), time.perf_counter() - t0, "timeout", timed_out=True)
    except BaseException as exc:  # noqa: BLE001 - an escaped exception is what the fuzzer looks for
        return Outcome(None, err.getvalue(), time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
