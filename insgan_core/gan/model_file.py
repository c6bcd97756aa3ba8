"""insgan model files: one ``.safetensors`` file holding generator weights plus JSON metadata.

Layout (the safetensors format, https://github.com/huggingface/safetensors):

====================  =================================================================================
bytes 0–7             header length ``N`` (unsigned 64-bit little-endian)
bytes 8 … 8+N         UTF-8 JSON header: one entry per tensor (``dtype``, ``shape``, ``data_offsets``)
                      and ``"__metadata__": {"insgan": "<JSON string>"}``
rest                  raw little-endian tensor data
====================  =================================================================================

Safetensors metadata maps strings to strings, so all insgan metadata is ONE JSON string under the key
``"insgan"``. Its keys: ``format_version`` (int, :data:`FORMAT_VERSION`), ``package_version``, ``network``
(spec for :func:`insgan_core.gan.networks.build_network`), ``normaliser`` (``Normaliser.to_dict()``),
``grid`` (``{"x_edges", "x_unit", "e_edges", "e_unit"}``), optional ``coverage_mask`` (nx × ne booleans,
target-domain coverage), ``mode``, ``instrument``, ``ei_meV``, ``training``, ``metrics`` and optional
``count_scale`` (counts per unit intensity of the targets, see :mod:`insgan_core.gan.inference`).

Loading never unpickles anything: the header length and the JSON header are checked against the file
size before any tensor is touched, and tensors are read by the safetensors parser (plain byte copies).
A corrupt, truncated, foreign or pickle file raises :class:`~insgan_core.errors.InsganFileError` naming
the file and the problem.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
from torch import nn

from .._version import __version__
from ..data.io._atomic import atomic_path
from ..errors import InsganFileError, InsganInputError

__all__ = [
    "FORMAT_VERSION", "METADATA_KEY", "REQUIRED_KEYS", "STRUCTURED_REQUIRED_KEYS", "ESTIMATOR_REQUIRED_KEYS", "save_model", "read_metadata",
    "read_validated", "load_model", "write_module",
]

#: version of the metadata layout written by this insgan; files with a larger number are refused
FORMAT_VERSION = 1
#: key of the insgan JSON string in the safetensors ``__metadata__`` table
METADATA_KEY = "insgan"
#: metadata keys a model file must have to be applied
REQUIRED_KEYS = ("format_version", "network", "normaliser", "grid")
#: metadata keys of a structured translation model (``"kind": "structured"``, :mod:`insgan_core.translation`)
STRUCTURED_REQUIRED_KEYS = ("format_version", "kind", "grid", "structured")
#: metadata keys of an amortised parameter estimator (``"kind": "amortised_estimator"``, :mod:`insgan_core.fitting`)
ESTIMATOR_REQUIRED_KEYS = ("format_version", "kind", "names", "bounds", "hidden", "n_features")
_REQUIRED_BY_KIND = {"gan": REQUIRED_KEYS, "structured": STRUCTURED_REQUIRED_KEYS,
                     "amortised_estimator": ESTIMATOR_REQUIRED_KEYS}

_MAX_HEADER_BYTES = 100_000_000  # the safetensors reference limit
_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "U16": 2, "U32": 4, "U64": 8,
}


def _json_default(obj):
    """JSON encoding of numpy scalars/arrays and paths found in metadata."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def _check_metadata(metadata: dict, *, where: str, error=InsganInputError) -> None:
    kind = metadata.get("kind", "gan")
    if kind not in _REQUIRED_BY_KIND:
        raise error(f"{where}: unknown model kind {kind!r}; expected one of {', '.join(map(repr, _REQUIRED_BY_KIND))}")
    required = _REQUIRED_BY_KIND[kind]
    missing = [k for k in required if k not in metadata]
    if missing:
        raise error(f"{where}: model metadata lacks {', '.join(missing)} (required: {', '.join(required)})")
    if kind == "amortised_estimator":
        return
    if kind == "structured":
        if not isinstance(metadata["structured"], dict):
            raise error(f"{where}: metadata 'structured' must be a dict of model options")
        grid = metadata["grid"]
        if not isinstance(grid, dict) or not {"x_edges", "x_unit", "e_edges", "e_unit"} <= set(grid):
            raise error(f"{where}: metadata 'grid' must have x_edges, x_unit, e_edges and e_unit, got {grid!r:.200}")
        return
    if not isinstance(metadata["network"], dict) or "name" not in metadata["network"]:
        raise error(f"{where}: metadata 'network' must be a dict with a 'name' key, got {metadata['network']!r}")
    grid = metadata["grid"]
    if not isinstance(grid, dict) or not {"x_edges", "x_unit", "e_edges", "e_unit"} <= set(grid):
        raise error(f"{where}: metadata 'grid' must have x_edges, x_unit, e_edges and e_unit, got {grid!r:.200}")


def save_model(path, *, generator: nn.Module, metadata: dict) -> Path:
    """Write ``generator``'s weights and ``metadata`` to one ``.safetensors`` file, atomically.

    Parameters
    ----------
    path : str or Path
        Output file (conventionally ``*.safetensors``); replaced atomically if it exists.
    generator : torch.nn.Module
        The network; its ``state_dict()`` (parameters and buffers) is stored.
    metadata : dict
        JSON-serialisable model description with at least ``network``, ``normaliser`` and ``grid`` (see
        the module docstring). ``format_version`` and ``package_version`` are filled in here.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    md = dict(metadata)
    md["format_version"] = FORMAT_VERSION
    md.setdefault("package_version", __version__)
    _check_metadata(md, where=f"save_model({path})")
    try:
        text = json.dumps(md, default=_json_default, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InsganInputError(f"save_model({path}): metadata is not JSON-serialisable: {exc}") from None
    return write_module(path, generator, text)


def write_module(path, module: nn.Module, metadata_text: str) -> Path:
    """Write ``module``'s state dict and the insgan JSON metadata string as one safetensors file,
    atomically (temporary file in the same folder, fsync, rename)."""
    from safetensors.torch import save as st_save

    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}
    payload = st_save(tensors, metadata={METADATA_KEY: metadata_text})
    with atomic_path(path, suffix=".safetensors") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def _read_validated(path) -> tuple[bytes, dict, dict]:
    """Read ``path`` and check its safetensors structure; returns (file bytes, header, insgan metadata).

    Nothing in the file is executed or unpickled: only the length prefix and the JSON header are parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise InsganFileError(f"model file {path}: not found (expected an insgan .safetensors model file)")
    data = path.read_bytes()
    size = len(data)
    if size < 8:
        raise InsganFileError(f"model file {path}: only {size} bytes, too short for a safetensors file (truncated?)")
    (n_header,) = struct.unpack("<Q", data[:8])
    if n_header > min(size - 8, _MAX_HEADER_BYTES) or n_header < 2:
        if data[:1] == b"\x80" or data[:2] == b"PK":
            kind = "it looks like a pickle / torch.save file, which insgan never loads"
        else:
            kind = "truncated, or not a safetensors file"
        raise InsganFileError(
            f"model file {path}: header length {n_header} does not fit the file size {size} bytes ({kind}); "
            "expected a model written by 'insgan train'"
        )
    try:
        header = json.loads(data[8 : 8 + n_header].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InsganFileError(f"model file {path}: the safetensors header is not valid JSON ({exc}); corrupt file") from None
    if not isinstance(header, dict):
        raise InsganFileError(f"model file {path}: the safetensors header is not a JSON object; corrupt file")
    table = header.get("__metadata__") or {}
    if not isinstance(table, dict) or METADATA_KEY not in table:
        raise InsganFileError(
            f"model file {path}: a safetensors file without insgan metadata (no '{METADATA_KEY}' entry in "
            "__metadata__); it was not written by insgan"
        )
    try:
        md = json.loads(table[METADATA_KEY])
    except (TypeError, ValueError) as exc:
        raise InsganFileError(f"model file {path}: the insgan metadata is not valid JSON ({exc}); corrupt file") from None
    if not isinstance(md, dict):
        raise InsganFileError(f"model file {path}: the insgan metadata is not a JSON object; corrupt file")
    version = md.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InsganFileError(f"model file {path}: metadata 'format_version' must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise InsganFileError(
            f"model file {path}: format_version {version} is newer than this insgan "
            f"({__version__}) reads (up to {FORMAT_VERSION}); upgrade insgan to load it"
        )
    _check_metadata(md, where=f"model file {path}", error=InsganFileError)
    # tensor table: offsets inside the data block, sizes consistent with dtype and shape
    n_data = size - 8 - n_header
    end_max = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = (int(v) for v in entry["data_offsets"])
            n_elem = math.prod(int(s) for s in entry["shape"])
            n_bytes = _DTYPE_BYTES[entry["dtype"]] * n_elem
        except (KeyError, TypeError, ValueError):
            raise InsganFileError(f"model file {path}: malformed entry for tensor {name!r} in the header; corrupt file") from None
        if not 0 <= start <= end or end - start != n_bytes:
            raise InsganFileError(f"model file {path}: tensor {name!r} has inconsistent offsets {start}..{end}; corrupt file")
        end_max = max(end_max, end)
    if end_max != n_data:
        raise InsganFileError(
            f"model file {path}: tensor data should be {end_max} bytes but the file holds {n_data} after the "
            f"header ({'truncated' if n_data < end_max else 'trailing bytes'}); re-copy or re-train the model"
        )
    return data, header, md


def read_validated(path) -> tuple[bytes, dict, dict]:
    """(file bytes, safetensors header, insgan metadata) of a validated model file of any kind."""
    return _read_validated(path)


def read_metadata(path) -> dict:
    """The insgan metadata of a model file, after validating its structure (no tensors are loaded).

    Raises
    ------
    InsganFileError
        Missing, truncated, corrupt, foreign (not insgan) or pickle file, or a newer ``format_version``.
    """
    return _read_validated(path)[2]


def load_model(path, *, device: str = "cpu"):
    """Load a model file as a :class:`~insgan_core.gan.inference.TranslationModel`.

    Parameters
    ----------
    path : str or Path
        An insgan ``.safetensors`` model file.
    device : str
        Torch device for inference (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``).

    Notes
    -----
    The network is rebuilt from ``metadata["network"]`` with the registry (no code is loaded from the
    file), then the tensors are copied in with ``load_state_dict(strict=True)``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    from .inference import TranslationModel
    from .networks import build_network

    data, _, md = _read_validated(path)
    if md.get("kind") == "structured":
        raise InsganFileError(
            f"model file {path}: a structured translation model; load it with "
            "insgan_core.translation.load_translator (or StructuredTranslator.load)"
        )
    if md.get("kind") == "amortised_estimator":
        raise InsganFileError(
            f"model file {path}: an amortised parameter estimator, not a translation model; use it with "
            "insgan fit --start amortised:FILE (insgan_core.fitting.load_estimator)"
        )
    try:
        tensors = st_load(data)
    except SafetensorError as exc:
        raise InsganFileError(f"model file {path}: safetensors could not read the tensors ({exc}); corrupt file") from None
    try:
        generator = build_network(md["network"])
    except InsganInputError as exc:
        raise InsganFileError(f"model file {path}: cannot rebuild the network from its metadata: {exc}") from None
    try:
        generator.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InsganFileError(
            f"model file {path}: the stored weights do not match the network spec {md['network']} ({first}...)"
        ) from None
    return TranslationModel(generator, md, device=device, source=str(path))
