"""Hostile (and a few valid) ``insgan`` command lines for the fuzz campaign and the CLI fuzz test.

:func:`command_lines` writes its small fixture files into ``tmp`` and returns
``(argv, expect, output)`` triples: ``expect`` is ``"refuse"`` (exit 2/1 with a one-line message),
``"accept"`` (exit 0) or ``"any"``; ``output`` is the file an exit-0 run writes (checked to hold finite
bins), or None.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

__all__ = ["command_lines", "write_fixtures"]

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
lattice: {a: 1, b: 1, c: 1}
sites: *i
bonds: *i
"""

PYTHON_TAG = "lattice: !!python/object/apply:os.system ['echo pwned > {marker}']\nsites: []\n"


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def write_fixtures(tmp: Path) -> dict[str, Path]:
    """Small hostile files (pickle renamed .safetensors, giant header, YAML bombs...) in ``tmp``."""
    f = {}
    f["pickle_model"] = tmp / "pickle.safetensors"
    f["pickle_model"].write_bytes(pickle.dumps(_Payload()))
    f["giant_header"] = tmp / "giant.safetensors"
    f["giant_header"].write_bytes(struct.pack("<Q", 2**62) + b"{}")
    f["absurd_shape"] = tmp / "absurd.safetensors"
    header = b'{"w": {"dtype": "F32", "shape": [1000000000, 1000000000], "data_offsets": [0, 4]}, "__metadata__": {"insgan": "{}"}}'
    f["absurd_shape"].write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    f["text_model"] = tmp / "notes.safetensors"
    f["text_model"].write_text("not a model")
    f["bomb_yaml"] = tmp / "bomb.yaml"
    f["bomb_yaml"].write_text(BILLION_LAUGHS)
    f["marker"] = tmp / "pwned.txt"
    f["python_yaml"] = tmp / "python.yaml"
    f["python_yaml"].write_text(PYTHON_TAG.format(marker=f["marker"]))
    f["list_yaml"] = tmp / "list.yaml"
    f["list_yaml"].write_text("- 1\n- 2\n")
    f["empty_yaml"] = tmp / "empty.yaml"
    f["empty_yaml"].write_text("")
    f["huge_yaml"] = tmp / "huge.yaml"
    f["huge_yaml"].write_text("x: [" + "1," * 3_000_000 + "1]\n")
    f["deep_yaml"] = tmp / "deep.yaml"
    f["deep_yaml"].write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    f["binary_props"] = tmp / "binary.properties"
    f["binary_props"].write_bytes(b"\x00\x01\x02user.python\xff\xfe\x00=\x80")
    f["nul_props"] = tmp / "nul.properties"
    f["nul_props"].write_bytes(b"user.python.plugins.directories=/a\x00b\n")
    f["text_file"] = tmp / "text.nxspe"
    f["text_file"].write_text("hello")
    f["empty_file"] = tmp / "empty.nxspe"
    f["empty_file"].write_bytes(b"")
    f["fake_npz"] = tmp / "fake.npz"
    f["fake_npz"].write_bytes(b"PK\x03\x04garbage")
    f["folder"] = tmp / "a_folder.nxs"
    f["folder"].mkdir(exist_ok=True)
    return f


def command_lines(tmp: Path, experimental: Path) -> list[tuple[list[str], str, Path | None]]:
    f = write_fixtures(tmp)
    bfo = str(experimental / "bi2fe4o9_Ei62_5K.nxspe")
    small = str(experimental / "MAR11001_test.nxspe")  # Ei 12.97 meV
    t = str(tmp)
    out = tmp / "out.nxs"
    fig = tmp / "fig.png"
    lines: list[tuple[list[str], str, Path | None]] = []

    def add(argv, expect="refuse", output=None):
        lines.append((["-q", *argv], expect, output))

    # --- convert: binning, ranges, outputs, inputs
    for q in ("0,0,7", "7,0.1,0", "a,b,c", "1,2", "", "nan,0.1,5", "inf,1,5", "0,1e-12,1e9", "0,1e-300,1e300",
              "-1,0.1,3", "12,0.1,13", "0,0.1,1e300", "1e300,1,1e301", "0,0.1,7,8", "0;0.1;7", "0,-0.1,7", "1e-320,1e-320,3e-320"):
        add(["convert", bfo, "--q-bins", q, "-o", str(out)])
    for e in ("70,1,80", "-10,0.5,1e300", "-1e300,1e298,0", "0,0.5,62.5", "-10,1e-9,50", "nan,1,2", "-10,-0.5,50",
              "-500,1,-400"):
        add(["convert", bfo, "--q-bins", "0,0.1,6", "--e-bins", e, "-o", str(out)])
    add(["convert", bfo, "--q-bins", "0,0.1,6", "--e-bins", "-10,0.5,50", "-o", str(out)], "accept", out)
    add(["convert", bfo, "--q-bins", "0.5,0.1,6", "--e-bins", "-10.5,0.5,50.5", "--method", "centre", "-o", str(out)],
        "accept", out)
    add(["convert", small, "--q-bins", "0,0.05,3", "--e-bins", "-1,0.1,12", "-o", str(out)], "accept", out)
    add(["convert", small, "--q-bins", "6,0.05,9", "-o", str(out)])  # beyond the kinematic range at Ei 13 meV
    add(["convert", small, "--q-bins", "0,0.05,3", "--e-bins", "-1,0.1,20", "-o", str(out)])  # beyond Ei
    add(["convert", bfo, "--q-bins", "0,0.1,6", "-o", f"{t}/x.txt"])
    add(["convert", bfo, "--q-bins", "0,0.1,6", "-o", f"{t}/missing/x.nxs"])
    add(["convert", bfo, "--q-bins", "0,0.1,6", "-o", str(f["folder"])])
    add(["convert", bfo, "--q-bins", "0,0.1,6", "--method", "nearest", "-o", str(out)])
    for key in ("text_file", "empty_file", "fake_npz", "folder", "bomb_yaml"):
        add(["convert", str(f[key]), "--q-bins", "0,0.1,6", "-o", str(out)])
    add(["convert", f"{t}/missing.nxspe", "--q-bins", "0,0.1,6", "-o", str(out)])
    add(["convert", bfo, "-o", str(out)])
    # --- plot
    for opts in (["--vmin", "5", "--vmax", "1"], ["--vmin", "nan"], ["--vmax", "inf"], ["--log", "--vmin", "0"],
                 ["--log", "--vmin", "-1"], ["--log", "--vmax", "-3"], ["--dpi", "0"], ["--dpi", "100000"],
                 ["--cmap", "no_such_map"], ["--title", "x" * 5000], ["--q-bins", "12,0.1,13"], ["--e-bins", "0,1,10"],
                 ["--q-bins", "0,0.1,6", "--e-bins", "70,1,80"], ["--vmin", "1", "--vmax", "1"], ["--dpi", "-5"],
                 ["--q-bins", "0,1e-9,6"]):
        add(["plot", bfo, "-o", str(fig), *opts])
    add(["plot", bfo, "-o", f"{t}/fig.gif"])
    add(["plot", bfo, "-o", f"{t}/missing/fig.png"])
    add(["plot", bfo, "-o", str(f["folder"])])
    add(["plot", str(f["text_file"]), "-o", str(fig)])
    add(["plot", bfo, "-o", str(fig), "--vmin", "-5", "--vmax", "5"], "accept", fig)
    add(["plot", bfo, "-o", str(fig), "--q-bins", "0,0.1,6", "--e-bins", "-10,1,50", "--log"], "accept", fig)
    # --- simulate
    sim = ["simulate", "afm_chain", "--directions", "5", "--q-bins", "0.1,0.2,3", "--e-bins", "0,1,20", "-o", str(out)]
    add([*sim, "--ei", "5"])
    add([*sim, "--ei", "5", "--artefacts", "background"])
    for opts in (["--ei", "-1"], ["--ei", "nan"], ["--directions", "0"], ["--directions", "1000000000"],
                 ["--temperature", "-1"], ["--temperature", "nan"], ["--fwhm", "0"], ["--fwhm", "nan"], ["--workers", "0"],
                 ["--count-scale", "-1", "--artefacts", "noise"], ["--artefacts", "glitter"], ["--instrument", "ILL_IN5"],
                 ["--detectors", str(f["text_file"]), "--artefacts", "coverage"], ["--chopper-frequency", "nan", "--artefacts", "resolution"],
                 ["--set", "J=abc"], ["--set", "J"], ["--set", "Q=1"], ["--fwhm", "1", "--artefacts", "resolution"]):
        add([*sim, *opts])
    for key in ("bomb_yaml", "python_yaml", "list_yaml", "empty_yaml", "huge_yaml", "deep_yaml", "text_file"):
        add(["simulate", str(f[key]), "--q-bins", "0.1,0.2,3", "--e-bins", "0,1,20", "-o", str(out)])
    add(["simulate", "no_such_model", "--q-bins", "0.1,0.2,3", "--e-bins", "0,1,20", "-o", str(out)])
    add(["simulate", "afm_chain", "--q-bins", "0,1e-9,3", "--e-bins", "0,1,20", "-o", str(out)])
    add(["simulate", "afm_chain", "--q-bins", "0.1,0.2,3", "--e-bins", "0,1e-6,20", "-o", str(out)])
    add(["simulate", "afm_chain", "--grid", f"{t}/missing.nxs", "-o", str(out)])
    add(["simulate", "afm_chain", "--grid", bfo, "-o", str(out)])
    add(["simulate", "afm_chain", "--q-bins", "0.1,0.2,3", "-o", str(out)])
    add(["simulate", "afm_chain", "--q-bins", "0.1,0.2,3", "--e-bins", "0,1,20"])
    add(["simulate", "afm_chain", "--directions", "5", "--q-bins", "0.1,0.2,3", "--e-bins", "-5,1,20", "-o", str(out)],
        "accept", out)
    # --- make-dataset
    for key in ("bomb_yaml", "python_yaml", "list_yaml", "empty_yaml", "text_file", "deep_yaml"):
        add(["make-dataset", str(f[key]), "-o", f"{t}/ds_{key}"])
    add(["make-dataset", f"{t}/missing.yaml", "-o", f"{t}/ds"])
    add(["make-dataset", str(f["list_yaml"]), "-o", f"{t}/ds", "--workers", "0"])
    add(["make-dataset", str(f["list_yaml"]), "-o", f"{t}/ds", "--retries", "-1"])
    # --- train
    tr = ["train", "--mode", "paired", "--source", bfo, "--target", bfo, "-o", f"{t}/m.safetensors"]
    for opts in (["--steps", "-1"], ["--batch-size", "0"], ["--lr", "nan"], ["--lr", "-1"], ["--width", "0"],
                 ["--patch-size", "1000000000"], ["--config", str(f["bomb_yaml"])], ["--config", str(f["python_yaml"])],
                 ["--q-bins", "0,0,1"], ["--checkpoint-every", "-3"], ["--device", "quantum"]):
        add([*tr, *opts])
    add(["train", "--mode", "paired", "--source", f"{t}/missing", "-o", f"{t}/m.safetensors"])
    add(["train", "--mode", "sideways", "--source", bfo, "-o", f"{t}/m.safetensors"])
    # --- apply
    for key in ("pickle_model", "giant_header", "absurd_shape", "text_model", "empty_file"):
        add(["apply", str(f[key]), bfo, "-o", str(out)])
    add(["apply", str(f["pickle_model"]), f"{t}/missing.nxs", "-o", str(out)])
    # --- evaluate
    add(["evaluate", "--output", f"{t}/missing.nxs", "--reference", bfo, "--baseline", bfo])
    add(["evaluate", "--output", str(f["text_file"]), "--reference", bfo, "--baseline", bfo])
    add(["evaluate", "--output", bfo, "--reference", bfo, "--baseline", bfo, "--patch-size", "0"])
    add(["evaluate", "--output", bfo, "--reference", bfo, "--baseline", bfo, "--q-window", "a,b"])
    # --- mantid-setup
    add(["mantid-setup", "--properties-file", f"{t}/no/such/dir/Mantid.user.properties"])
    add(["mantid-setup", "--properties-file", f"{t}/no/such/dir/Mantid.user.properties", "--write"])
    add(["mantid-setup", "--properties-file", str(f["binary_props"])])
    add(["mantid-setup", "--properties-file", str(f["nul_props"])])
    add(["mantid-setup", "--properties-file", str(f["folder"])])
    add(["mantid-setup", "--properties-file", f"{t}/Mantid.user.properties"], "accept")
    # --- entry point
    lines.append(([], "refuse", None))
    lines.append((["no-such-command"], "refuse", None))
    lines.append((["--version"], "accept", None))
    lines.append((["convert"], "refuse", None))
    return lines
