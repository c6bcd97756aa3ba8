"""Fuzz campaign over insgan's readers and command line (not run in CI; takes minutes).

    PYTHONPATH=. nice python tests/fuzz/campaign.py --nxspe 1000 --maps 300 --cli 120 --json fuzz.json

Runs, in this process (the CLI's ``main``), with a per-run time limit:

* NXSPE mutations (every shared file in ../shared/data/experimental) through ``insgan convert``;
* mutations of an insgan-written processed NeXus S(|Q|,E) map through ``insgan plot`` and ``insgan apply``
  (a tiny model trained on the map's grid);
* hostile command lines (tests/fuzz/command_lines.py).

Counts: tracebacks (an exception escaping ``main``), hangs (past the time limit), exit-0 outputs from
corrupt inputs (semantic mutations, or command lines that must be refused), outputs with no finite bin
or that insgan cannot read back, internal-error messages, and refusals that do not name the input file.
Acceptance (issue 13): 0 tracebacks, 0 hangs, 0 exit-0 outputs from corrupt inputs, <= 1 % internal errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from fuzz.mutations import (  # noqa: E402
    MAP_BYTES, MAP_SEMANTIC, NXSPE_BYTES, NXSPE_SEMANTIC, mutate_map, mutate_nxspe, run_cli,
)

EXPERIMENTAL = HERE.parents[2] / "shared" / "data" / "experimental"


class Tally:
    def __init__(self, name: str):
        self.name = name
        self.n = 0
        self.counts = Counter()
        self.examples: dict[str, list[str]] = {}
        self.seconds = []

    def add(self, label: str, outcome, *, corrupt: bool, must_name: str | None, output: Path | None) -> None:
        self.n += 1
        self.seconds.append(outcome.seconds)
        problems = []
        if outcome.timed_out:
            problems.append("hang")
        elif outcome.traceback:
            problems.append("traceback")
        elif outcome.code == 0:
            if corrupt:
                problems.append("exit0_corrupt")
            if output is not None and not _output_ok(output):
                problems.append("exit0_bad_output")
            self.counts["accepted"] += 1
        else:
            self.counts["refused"] += 1
            if outcome.internal:
                problems.append("internal_error")
            if must_name and must_name not in outcome.stderr:
                problems.append("file_not_named")
            if len(outcome.stderr.strip().splitlines()) > 1 and not outcome.stderr.startswith("usage:"):
                problems.append("multi_line_message")
        for p in problems:
            self.counts[p] += 1
            self.examples.setdefault(p, [])
            if len(self.examples[p]) < 5:
                self.examples[p].append(f"{label}: code={outcome.code} {outcome.exception} {outcome.stderr.strip()[:300]}")

    def report(self) -> dict:
        return {
            "runs": self.n,
            "counts": dict(self.counts),
            "internal_error_percent": 100.0 * self.counts["internal_error"] / max(self.n, 1),
            "median_s": float(np.median(self.seconds)) if self.seconds else 0.0,
            "max_s": float(np.max(self.seconds)) if self.seconds else 0.0,
            "examples": self.examples,
        }


def _output_ok(path: Path) -> bool:
    """An output written with exit 0 must load and hold at least one finite bin (images: non-empty)."""
    if not path.exists():
        return True  # commands that write elsewhere (folders) are checked by their own tests
    if path.suffix in (".png", ".svg", ".pdf"):
        return path.stat().st_size > 0
    from insgan_core.data.io import load

    try:
        m = load(path)
    except Exception:  # noqa: BLE001
        return False
    return bool(np.isfinite(m.signal).any())


def run_nxspe(n: int, tmp: Path, rng, timeout: float) -> Tally:
    files = sorted(p for p in EXPERIMENTAL.glob("*.nxspe"))
    from insgan_core.data.io import load
    from insgan_core.data.detector import DetectorData

    nxspe = [f for f in files if isinstance(load(f), DetectorData) and _is_true_nxspe(f)]
    kinds = NXSPE_SEMANTIC + NXSPE_BYTES
    tally = Tally("nxspe->convert")
    for i in range(n):
        src = nxspe[rng.integers(len(nxspe))]
        kind = kinds[rng.integers(len(kinds))]
        if kind == "transpose" and _square(src):
            kind = "signal_inf"
        dst = tmp / f"n{i}_{kind}.nxspe"
        corrupt = mutate_nxspe(src, dst, kind, seed=i)
        out = tmp / f"n{i}.nxs"
        o = run_cli(["-q", "convert", str(dst), "--q-bins", "0,0.1,10", "-o", str(out)], timeout_s=timeout)
        tally.add(f"{src.name}/{kind}/seed{i}", o, corrupt=corrupt, must_name=str(dst), output=out)
        dst.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    return tally


def _is_true_nxspe(path: Path) -> bool:
    import h5py

    from insgan_core.data.io.nxspe import is_nxspe

    with h5py.File(path, "r") as f:
        return is_nxspe(f)


def _square(path: Path) -> bool:
    from insgan_core.data.io import load

    return load(path).shape[0] == load(path).shape[1]


def run_maps(n: int, tmp: Path, rng, timeout: float) -> tuple[Tally, Tally]:
    base = tmp / "base_map.nxs"
    model = tmp / "model.safetensors"
    src = EXPERIMENTAL / "bi2fe4o9_Ei62_5K.nxspe"
    assert run_cli(["-q", "convert", str(src), "--q-bins", "0.2,0.2,5.8", "--e-bins=-10,2,54", "-o", str(base)]).code == 0
    o = run_cli(["-q", "train", "--mode", "paired", "--source", str(base), "--target", str(base), "--steps", "1",
                 "--width", "4", "--batch-size", "1", "-o", str(model), "--checkpoint-dir", str(tmp / "ck")], timeout_s=300)
    assert o.code == 0, o.stderr
    kinds = MAP_SEMANTIC + MAP_BYTES
    plot, apply = Tally("map->plot"), Tally("map->apply")
    for i in range(n):
        kind = kinds[rng.integers(len(kinds))]
        dst = tmp / f"m{i}_{kind}.nxs"
        corrupt = mutate_map(base, dst, kind, seed=10_000 + i)
        fig = tmp / f"m{i}.png"
        o = run_cli(["-q", "plot", str(dst), "-o", str(fig)], timeout_s=timeout)
        plot.add(f"{kind}/seed{i}", o, corrupt=corrupt, must_name=str(dst), output=fig)
        out = tmp / f"m{i}_out.nxs"
        o = run_cli(["-q", "apply", str(model), str(dst), "-o", str(out)], timeout_s=timeout)
        apply.add(f"{kind}/seed{i}", o, corrupt=corrupt, must_name=str(dst), output=out)
        for p in (dst, fig, out):
            p.unlink(missing_ok=True)
    return plot, apply


def run_command_lines(tmp: Path, timeout: float, limit: int | None) -> Tally:
    from fuzz.command_lines import command_lines

    tally = Tally("command lines")
    for k, (argv, expect, output) in enumerate(command_lines(tmp, EXPERIMENTAL)):
        if limit is not None and k >= limit:
            break
        o = run_cli(argv, timeout_s=timeout)
        ok_refused = expect == "refuse" and o.code not in (0, None)
        label = " ".join(argv)[:160]
        tally.add(label, o, corrupt=(expect == "refuse"), must_name=None, output=output)
        if expect == "accept" and o.code != 0:
            tally.counts["wrongly_refused"] += 1
            tally.examples.setdefault("wrongly_refused", []).append(f"{label}: {o.stderr.strip()[:300]}")
        if ok_refused and o.code == 1 and not o.internal:
            tally.counts["refused_exit1"] += 1
    return tally


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nxspe", type=int, default=1000)
    ap.add_argument("--maps", type=int, default=300)
    ap.add_argument("--cli", type=int, default=None, help="at most this many command lines (default all)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per run before it counts as a hang")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    reports = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tallies = []
        if args.nxspe:
            tallies.append(run_nxspe(args.nxspe, tmp, rng, args.timeout))
        if args.maps:
            tallies.extend(run_maps(args.maps, tmp, rng, args.timeout))
        if args.cli != 0:
            tallies.append(run_command_lines(tmp, args.timeout, args.cli))
        for t in tallies:
            reports[t.name] = t.report()
    total = Counter()
    for r in reports.values():
        total.update({"runs": r["runs"], **r["counts"]})
    reports["total"] = {**dict(total), "internal_error_percent": 100.0 * total["internal_error"] / max(total["runs"], 1),
                        "wall_s": time.perf_counter() - t0}
    text = json.dumps(reports, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text)
    bad = total["traceback"] + total["hang"] + total["exit0_corrupt"] + total["exit0_bad_output"]
    return 0 if bad == 0 and reports["total"]["internal_error_percent"] <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
