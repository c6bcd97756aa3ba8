# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every benchmark script and write one markdown report of the measured ratios (``REPORT.md``).

Each ``bench_*.py`` script runs as a subprocess of the same Python, one after the other, with
``--json PATH`` into a temporary folder; its printed output is echoed here. The report has a header
describing the machine (CPU model, cores, RAM, OS, Python, numpy/torch versions, torch threads, GPU,
date, load average), one table of the measured numbers — each against the baseline its script runs in
the same process, with the target and whether it is met — and notes. A script that fails (non-zero exit,
timeout, no JSON) appears in the table as failed with the tail of its output; the runner carries on,
writes the report and exits with status 1.

Run::

    python benchmarks/run_all.py                      # full sizes, writes benchmarks/REPORT.md
    python benchmarks/run_all.py --quick --output /tmp/REPORT_quick.md   # smoke test, a few minutes
    python benchmarks/run_all.py --threads 2 --include-quality           # + the (long) GAN quality run
    python benchmarks/run_all.py --threads 2 --include-fit --only fit fit_recovery fit_amortised \
        fit_amortised_bfo fit_speed                                       # the fitting benchmarks (~40 min)

For the spin-wave comparison with pySpinW, run this script with the Python of a virtual environment that
has pySpinW installed and insgan on the path (``PYTHONPATH=. /path/to/pyspinw-venv/bin/python
benchmarks/run_all.py``); see ``bench_spinwave.py``. Without pySpinW its rows say so.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_OUTPUT = HERE / "REPORT.md"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")
TABLE_HEADER = ("Benchmark", "Measured", "Baseline (same process)", "Ratio", "Target", "Met?")

__all__ = ["BenchScript", "SCRIPTS", "run_script", "machine_info", "build_table", "render_report", "main"]


@dataclasses.dataclass(frozen=True)
class BenchScript:
    """One benchmark script: its name in the report, file, and the arguments of a quick (smoke) run."""

    name: str
    filename: str
    quick_args: tuple[str, ...] = ("--quick",)
    takes_threads: bool = False  # accepts --threads N
    optional: bool = False       # only with --include-<include>
    include: str = "quality"     # the --include-... option that runs an optional script
    extra_args: tuple[str, ...] = ()  # always passed; "{json_dir}" becomes the results folder


SCRIPTS = (
    BenchScript("spinwave", "bench_spinwave.py", takes_threads=True),
    BenchScript("spinwave_speed", "bench_spinwave_speed.py", takes_threads=True),
    BenchScript("artefacts", "bench_artefacts.py"),
    BenchScript("gan_inference", "bench_gan_inference.py", takes_threads=True),
    BenchScript("gan_training", "bench_gan_training.py",
                quick_args=("--steps", "3", "--nq", "64", "--ne", "128", "--learn-steps", "0")),
    BenchScript("apply_algorithm", "bench_apply_algorithm.py"),
    BenchScript("reduction", "bench_reduction.py"),
    BenchScript("translation", "bench_translation.py"),
    BenchScript("translation_speed", "bench_translation_speed.py", quick_args=("--repeats", "3"), takes_threads=True),
    BenchScript("gan_quality", "bench_gan_quality.py", optional=True),
    # fitting (issue 11): slow, only with --include-fit; fit_speed uses the estimator fit_amortised_bfo writes
    BenchScript("fit", "bench_fit.py", quick_args=("--accuracy", "0.3"), optional=True, include="fit"),
    BenchScript("fit_recovery", "bench_fit_recovery.py", quick_args=("--realisations", "3", "--accuracy", "0.2"),
                optional=True, include="fit"),
    BenchScript("fit_amortised", "bench_fit_amortised.py", quick_args=("--n", "200", "--epochs", "20"),
                optional=True, include="fit"),
    BenchScript("fit_amortised_bfo", "bench_fit_amortised_bfo.py", quick_args=("--n", "240", "--epochs", "20"),
                optional=True, include="fit", extra_args=("--out", "{json_dir}/bfo_estimator.safetensors")),
    BenchScript("fit_speed", "bench_fit_speed.py", quick_args=("--accuracy", "0.1", "--coarse-accuracy", "0.3"),
                takes_threads=True, optional=True, include="fit",
                extra_args=("--baseline", "--estimator", "{json_dir}/bfo_estimator.safetensors")),
)


# ----------------------------------------------------------------------------------------------- running

def _tail(text: str, *, lines: int = 20) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_script(script: BenchScript, *, json_dir: Path, quick: bool, threads: int | None,
               timeout_s: float | None, python: str = sys.executable) -> dict:
    """Run one script with ``--json`` and return ``{"ok", "data", "returncode", "wall_s", "command", "error_tail"}``.

    Never raises for a failing script: a non-zero exit, a timeout or a missing/unreadable JSON file gives
    ``ok=False`` with the tail of the script's output in ``error_tail``.
    """
    json_path = json_dir / f"{script.name}.json"
    log_path = json_dir / f"{script.name}.log"
    command = [python, str(HERE / script.filename), "--json", str(json_path)]
    command += [a.replace("{json_dir}", str(json_dir)) for a in script.extra_args]
    if quick:
        command += list(script.quick_args)
    if threads is not None and script.takes_threads:
        command += ["--threads", str(threads)]
    json_path.unlink(missing_ok=True)  # never report a stale result from an earlier run
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # the log file follows the script as it runs
    if threads is not None:
        env.update({variable: str(threads) for variable in THREAD_VARIABLES})
    shown = " ".join(["python", f"benchmarks/{script.filename}", "--json", json_path.name,
                      *(a.replace(str(json_dir) + os.sep, "") for a in command[4:])])
    print(f"\n=== {script.name}: {shown}", flush=True)
    result = {"ok": False, "data": None, "returncode": None, "wall_s": None, "command": shown, "error_tail": ""}
    t0 = time.perf_counter()
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout_s or None, check=False)
        result["returncode"] = proc.returncode
    except subprocess.TimeoutExpired:
        result["returncode"] = "timeout"
    result["wall_s"] = time.perf_counter() - t0
    output = log_path.read_text(encoding="utf-8", errors="replace")
    print(output, end="" if output.endswith("\n") else "\n", flush=True)
    if result["returncode"] != 0:
        why = (f"timed out after {timeout_s:g} s" if result["returncode"] == "timeout"
               else f"exit code {result['returncode']}")
        result["error_tail"] = f"{why}\n{_tail(output)}"
        return result
    try:
        result["data"] = json.loads(json_path.read_text(encoding="utf-8"))
        result["ok"] = True
    except (OSError, ValueError) as exc:
        result["error_tail"] = f"no readable JSON results ({exc})\n{_tail(output)}"
    return result


def machine_info(*, threads: int | None = None) -> dict:
    """The machine the benchmarks ran on: CPU, cores, RAM, OS, Python, library versions, GPU, date, load."""
    info = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": platform.processor() or platform.machine(), "logical_cores": os.cpu_count(),
            "os": platform.platform(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
        info["ram_GiB"] = round(kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        info["ram_GiB"] = None
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    info["thread_variables"] = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    if threads is not None:
        info["thread_variables"] = {v: str(threads) for v in THREAD_VARIABLES}
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:
        info["numpy"] = None
    try:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    except ImportError:
        info.update(torch=None, torch_threads=None, gpu=None)
    return info


# ------------------------------------------------------------------------------------------------- table

def _num(value: float | None) -> str:
    """A number with a precision that suits its size (thousands separators above 1000)."""
    if value is None:
        return "—"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def met(value: float | None, *, at_least: float | None = None, at_most: float | None = None) -> str:
    """``"yes"``/``"no"`` for ``value`` against a lower and/or upper bound; ``"n/a"`` without a value."""
    if value is None:
        return "n/a"
    ok = (at_least is None or value >= at_least) and (at_most is None or value <= at_most)
    return "yes" if ok else "no"


def _cell(text) -> str:
    """A markdown table cell: pipes escaped, newlines as <br>, long text cut."""
    text = str(text).replace("|", "\\|").replace("\r", "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = "<br>".join(lines)
    return text if len(text) <= 400 else "…" + text[-399:]


def _row(benchmark, measured="—", baseline="—", ratio="—", target="—", ok="—") -> tuple:
    return (benchmark, measured, baseline, ratio, target, ok)


def _spinwave_rows(data: dict) -> list[tuple]:
    rows = []
    backends = data.get("backends", [])
    have_peer = data.get("pyspinw") is not None
    for key, label, target in (("single_crystal_two_site", "spin-wave single crystal, 2-site cell", 2.0),
                               ("single_crystal_sixteen_site", "spin-wave single crystal, 16-site cell", 2.0),
                               ("powder_two_site", "spin-wave powder map, 2-site cell", 4.0)):
        job = data.get("jobs", {}).get(key)
        if job is None:
            continue
        per_q = "n_q" in job
        # the faster insgan backend is the one a user would choose
        best = min(backends, key=lambda b: job[f"insgan_{b}_best_s"])

        def show(code):
            return f"{_num(job[f'{code}_q_per_s'])} Q/s" if per_q else f"{_num(1e3 * job[f'{code}_best_s'])} ms"

        measured = "; ".join(f"{b} {show(f'insgan_{b}')}" for b in backends)
        name = f"{label} ({job['job'].split(', ')[-1]})"
        target_text = f"≥ {target:g}× pySpinW" if per_q else f"≥ {target:g}× faster than pySpinW"
        if have_peer:
            ratio = job[f"ratio_pyspinw_time_over_insgan_{best}_time"]
            rows.append(_row(name, measured, f"{data['pyspinw']}: {show('pyspinw')}",
                             f"{_num(ratio)}× ({best})", target_text, met(ratio, at_least=target)))
        else:
            rows.append(_row(name, measured, "pySpinW not installed", "—", target_text, "n/a"))
    return rows


def _spinwave_speed_rows(data: dict) -> list[tuple]:
    """Rows of bench_spinwave_speed.py (issue 12): Bi2Fe4O9 powder speed at measured accuracy, pySpinW."""
    rows = []
    a = data.get("a") or {}
    for p in a.get("plans", []):
        l1 = p["rel_l1"]
        rows.append(_row(
            f"Bi2Fe4O9 powder map, MERLIN grid {a['grid']}, {a['temperature_K']:g} K (plan, accuracy {p['accuracy']:g})",
            f"{_num(p['first_call_s'])} s (re-used plan {_num(p['reuse_s'])} s); rel. L1 {_num(l1['None'])} "
            f"histogram, {_num(l1['2.0'])} at 2 meV FWHM",
            f"previous 1597 dirs: {_num(a['old_s'])} s, L1 {_num(a['old_rel_l1']['None'])} / {_num(a['old_rel_l1']['2.0'])}; "
            f"eigh 20k 16×16: {_num(a['eigh_20000_16x16_s'])} s",
            f"{_num(p['speedup_vs_old'])}× faster; {_num(p['ratio_to_eigh'])}× eigh",
            "≤ 1.5 s and ≤ 1 % L1", "yes" if p["first_call_s"] <= 1.5 and l1["None"] <= 0.01 else "no"))
    b = data.get("b") or {}
    if b.get("pyspinw") is None:
        rows.append(_row("spin-wave speed vs pySpinW (issue 12)", "—", "pySpinW not installed", "—", "—", "n/a"))
    else:
        pw = b.get("powder", {})
        if "ratio" in pw:
            rows.append(_row(f"powder map, 2-site cell, at ≤ pySpinW's error ({pw['job']})",
                             f"{_num(1e3 * pw['insgan_s'])} ms, L1 {_num(pw['insgan_rel_l1'])}",
                             f"pySpinW {b['pyspinw']}: {_num(1e3 * pw['pyspinw_s'])} ms, L1 {_num(pw['pyspinw_rel_l1'])}",
                             f"{_num(pw['ratio'])}×", "≥ 10×", met(pw["ratio"], at_least=10.0)))
        sc = b.get("single_crystal_16", {})
        if sc:
            rows.append(_row("single crystal, 16-site cell (issue 12)",
                             f"numpy {_num(sc['insgan_numpy_q_per_s'])} Q/s; torch {_num(sc['insgan_torch_q_per_s'])} Q/s"
                             + (f"; numpy float32 (refined) {_num(sc['insgan_numpy_float32_q_per_s'])} Q/s"
                                if "insgan_numpy_float32_q_per_s" in sc else ""),
                             f"pySpinW {b['pyspinw']}: {_num(sc['pyspinw_q_per_s'])} Q/s",
                             f"{_num(sc['ratio'])}×" + (f" ({sc['best']}; complex128 only {_num(sc['ratio_float64'])}×)"
                                                        if "best" in sc else ""),
                             "≥ 3×", met(sc["ratio"], at_least=3.0)))
    return rows


def _artefact_rows(data: dict) -> list[tuple]:
    rows = []
    analytic = {r["steps"]: r for r in data.get("rows", []) if r["path"].startswith("analytic")}
    grid = "×".join(str(n) for n in data.get("grid_bins", []))
    for r in data.get("rows", []):
        if r["path"].startswith("analytic"):
            continue
        base = analytic.get(r["steps"])
        rows.append(_row(f"artefact path {r['path']} vs analytic ({r['steps']}, {grid} map)",
                         f"{_num(1e3 * r['best_s_per_map'])} ms/map",
                         f"analytic: {_num(1e3 * base['best_s_per_map'])} ms/map" if base else "—",
                         f"MC / analytic time {_num(r['ratio_to_analytic'])}×"))
    return rows


def _gan_inference_rows(data: dict) -> list[tuple]:
    grid = "×".join(str(n) for n in data.get("map_bins", []))
    gan = data.get("cpu_batch1_median_ms_per_map")
    target = data.get("target_cpu_batch1_max_ms_per_map", 20.0)
    threads = data.get("torch_threads")
    rows = [_row(f"GAN inference, CPU ({threads} threads), batch 1 ({grid} map)", f"{_num(gan)} ms/map",
                 target=f"≤ {target:g} ms/map", ok=met(gan, at_most=target))]
    if data.get("cpu_batch16_median_ms_per_map") is not None:
        rows.append(_row(f"GAN inference, CPU, batch 16 ({grid} map)",
                         f"{_num(data['cpu_batch16_median_ms_per_map'])} ms/map"))
    if data.get("cuda_batch64_maps_per_s") is not None:
        rows.append(_row(f"GAN inference, {data.get('cuda_device', 'GPU')}, batch 64",
                         f"{_num(data['cuda_batch64_maps_per_s'])} maps/s"))
    for path in data.get("artefact_paths") or []:
        name = "Monte-Carlo" if path["method"] == "montecarlo" else "analytic"
        rows.append(_row(f"GAN inference vs {name} artefact path ({path['steps']})", f"GAN: {_num(gan)} ms/map",
                         f"{name}: {_num(path['median_ms_per_map'])} ms/map",
                         f"speed-up {_num(path['ratio_to_gan_cpu_batch1'])}×"))
    return rows


def _gan_training_rows(data: dict) -> list[tuple]:
    grid = "×".join(str(n) for n in data.get("map_bins", []))
    rows = []
    for mode, t in data.get("trainers", {}).items():
        rows.append(_row(f"training throughput, {t['label']} ({grid} maps, batch {data.get('batch_size')}, CPU)",
                         f"{_num(t['maps_per_s'])} maps/s",
                         f"supervised generator step: {_num(t['baseline_supervised_maps_per_s'])} maps/s",
                         f"trainer / baseline {_num(t['ratio_to_baseline'])}×"))
    run = data.get("paired_learning_run")
    if run:
        rows.append(_row(f"paired learning run, {run['steps']} steps (training pairs)",
                         f"relative L1 {_num(run['train_relative_l1'])}",
                         f"identity: {_num(run['train_relative_l1_identity'])}",
                         f"gap closed {100 * run['gap_closed']:.0f} %"))
    return rows


def _apply_rows(data: dict) -> list[tuple]:
    alg, core = data.get("algorithm_median_ms"), data.get("core_median_ms")
    target = data.get("target_algorithm_max_ms", 1000.0)
    grid = "×".join(str(n) for n in data.get("workspace_bins", []))
    return [_row(f"ApplyINSGAN end to end ({grid} workspace, Mantid stand-in)", f"{_num(alg)} ms (median)",
                 f"core load_model + apply: {_num(core)} ms",
                 f"algorithm / core time {_num(data.get('ratio_algorithm_over_core'))}×",
                 f"< {target:g} ms", met(alg, at_most=target))]


def _reduction_rows(data: dict) -> list[tuple]:
    return [_row(f"powder reduction polygon vs centre ({data.get('file')}, {data.get('detectors')} det × "
                 f"{data.get('energy_bins')} E → {data.get('q_bins')} |Q| bins)",
                 f"polygon: {_num(data.get('polygon_best_ms_per_map'))} ms",
                 f"centre: {_num(data.get('centre_best_ms_per_map'))} ms",
                 f"polygon / centre time {_num(data.get('ratio_polygon_over_centre'))}×")]


def _quality_rows(data: dict) -> list[tuple]:
    rows = []
    paired, unpaired = data.get("paired"), data.get("unpaired")
    if paired:
        target = paired.get("gap_target", 0.9)
        rows.append(_row(f"GAN quality, paired: held-out relative L1 to the artefact map ({paired['steps']} steps)",
                         f"GAN: {_num(paired['relative_l1_gan_vs_noise_free'])}",
                         f"clean input: {_num(paired['relative_l1_clean_vs_noise_free'])}",
                         f"gap closed {_num(paired['gap_closed'])}", f"≥ {target:g}",
                         met(paired["gap_closed"], at_least=target)))
        lo, hi = paired.get("noise_target", [0.9, 1.1])
        rows.append(_row("GAN quality, paired: noise variance/mean in counts",
                         f"GAN: {_num(paired['variance_to_mean_counts_gan'])}",
                         f"targets: {_num(paired['variance_to_mean_counts_targets'])}",
                         f"GAN / targets {_num(paired['noise_ratio'])}", f"{lo:g}–{hi:g}",
                         met(paired["noise_ratio"], at_least=lo, at_most=hi)))
    if unpaired:
        target = unpaired.get("reduction_target", 0.5)
        rows.append(_row(f"GAN quality, unpaired: held-out patch distance to real data ({unpaired['steps']} steps)",
                         f"GAN: {_num(unpaired['patch_distance_gan'])}",
                         f"clean input: {_num(unpaired['patch_distance_clean'])}",
                         f"reduction {_num(unpaired['reduction'])}", f"≥ {target:g}",
                         met(unpaired["reduction"], at_least=target)))
        peaks = unpaired.get("magnon_peaks", [])
        if peaks:
            rows.append(_row("GAN quality, unpaired: magnon peak shift GAN − clean (meV)",
                             ", ".join(_num(p["shift_meV"]) for p in peaks),
                             "resolution FWHM: " + ", ".join(_num(p["resolution_fwhm_meV"]) for p in peaks),
                             "—", "|shift| ≤ FWHM", "yes" if all(p["within_fwhm"] for p in peaks) else "no"))
    return rows


#: translator names of bench_translation.py that are baselines (anything else is the learned model)
BASELINE_NAMES = ("clean", "blur", "analytic", "structured", "structured_w")


def _family_rows(oof: dict, model_note: str) -> list[tuple]:
    """Rows of one out-of-family training set of bench_translation.py."""
    rows = []
    maps = [mp for mp in oof.get("maps", []) if "translators" in mp]
    if maps:
        names = list(maps[0]["translators"])
        fams = "+".join(oof.get("train_families", []))
        model = next((n for n in names if n not in BASELINE_NAMES), None)

        def worst(key, fn=max):
            out = {}
            for n in names:
                v = [mp["translators"][n].get(key) for mp in maps]
                v = [x for x in v if x is not None]
                out[n] = fn(v) if v else None
            return out

        l1 = worst("relative_l1")
        floors = [mp.get("target_noise_floor_relative_l1") for mp in maps]
        floors = [f for f in floors if f is not None]
        if floors:
            model_note = f"{model_note} (targets' own Monte-Carlo noise, worst: {_num(max(floors))})"
        beats_blur = None
        if model:
            beats_blur = all(mp["translators"][model]["relative_l1"] <= mp["translators"]["blur"]["relative_l1"]
                             for mp in maps if "blur" in mp["translators"])
        rows.append(_row(f"translation out of family (trained on {fams}; {len(maps)} test maps): worst relative L1 "
                         f"to the noise-free target{model_note}", "; ".join(f"{n} {_num(v)}" for n, v in l1.items()),
                         f"blur + mask: {_num(l1.get('blur'))}", "—", "≤ 0.3 and ≤ blur on every map",
                         "n/a" if model is None else ("yes" if beats_blur and met(l1[model], at_most=0.3) == "yes" else "no")))
        l1_inel = worst("relative_l1_inelastic")
        if any(v is not None for v in l1_inel.values()):
            rows.append(_row(f"translation out of family ({fams}): worst relative L1 in the inelastic region "
                             "(above 2 elastic FWHM, below 48 meV; diagnostic)",
                             "; ".join(f"{n} {_num(v)}" for n, v in l1_inel.items()), "—", "—", "—", "—"))
        lo, hi = worst("inelastic_ratio", min), worst("inelastic_ratio", max)
        rows.append(_row(f"translation out of family ({fams}): inelastic intensity ratio (min–max over maps)",
                         "; ".join(f"{n} {_num(lo[n])}–{_num(hi[n])}" for n in names), "—", "—", "0.9–1.1",
                         "n/a" if model is None else ("yes" if met(lo[model], at_least=0.9) == "yes"
                                                       and met(hi[model], at_most=1.1) == "yes" else "no")))
        for key, what, limit in (("max_peak_shift_over_half_fwhm", "worst peak shift / half resolution FWHM", 1.0),
                                 ("null_relative_l1_to_background", "all-zero input: worst relative L1 to the background-only target", 0.1),
                                 ("x10_linearity_relative_l1", "input ×10: worst relative L1 of the signal part to 10× "
                                  "the signal part at ×1", 0.05)):
            w = worst(key)
            rows.append(_row(f"translation out of family ({fams}): {what}", "; ".join(f"{n} {_num(v)}" for n, v in w.items()),
                             "—", "—", f"≤ {limit:g}", "n/a" if model is None else met(w[model], at_most=limit)))

    return rows


def _translation_rows(data: dict) -> list[tuple]:
    """Issue 16: real-data χ²/N both directions and the out-of-family, null and ×10 checks (model judged, baselines shown)."""
    rows = []
    model_note = "" if data.get("learned_model") == "included" else " (learned model not available)"
    real = data.get("real_data") or {}
    for d in real.get("directions", []):
        tr = d["translators"]
        model = next((n for n in tr if n not in BASELINE_NAMES), None)
        label = f"translation, real Bi2Fe4O9 {d['train_K']:g} K → {d['test_K']:g} K"
        shown = "; ".join(f"{n} {_num(r['chi2_inelastic'])}" for n, r in tr.items())
        clean, structured = tr.get("clean"), tr.get("structured")
        m = tr.get(model) if model else None
        ok = "n/a" if m is None or not clean or not structured else met(
            max(m["chi2_inelastic"] / structured["chi2_inelastic"], 2 * m["chi2_inelastic"] / clean["chi2_inelastic"]),
            at_most=1.0)
        ratio = ("structured / clean " + _num(structured["chi2_ratio_to_clean"])) if structured else "—"
        if m is not None and clean:
            ratio = f"model / clean {_num(m['chi2_ratio_to_clean'])}; " + ratio
        rows.append(_row(f"{label}: inelastic χ²/N (E > 3 meV){model_note}", shown,
                         f"clean × LSQ: {_num(clean['chi2_inelastic']) if clean else '—'}", ratio,
                         "model ≤ structured LSQ and ≤ 0.5× clean", ok))
        below = "; ".join(f"{n} {_num(r['chi2_inelastic_below_48meV'])}" for n, r in tr.items())
        rows.append(_row(f"{label}: χ²/N without E > 48 meV", below,
                         f"clean × LSQ: {_num(clean['chi2_inelastic_below_48meV']) if clean else '—'}",
                         f"structured / clean {_num(structured['chi2_below_48_ratio_to_clean'])}" if structured else "—"))
        for key, what, lo, hi in (("patch_distance_reduction_vs_clean", "patch distance reduction vs clean", 0.5, None),
                                  ("elastic_ratio", "elastic integral / measured", 0.8, 1.2),
                                  ("noise_ratio", "noise variance/mean / measured", 0.8, 1.25)):
            target = f"≥ {lo:g}" if hi is None else f"{lo:g}–{hi:g}"
            rows.append(_row(f"{label}: {what}", "; ".join(f"{n} {_num(r.get(key))}" for n, r in tr.items()), "—", "—",
                             target, "n/a" if m is None else met(m.get(key), at_least=lo, at_most=hi)))
        seeds = {n: r["noise_ratio_other_seeds"] for n, r in tr.items() if r.get("noise_ratio_other_seeds")}
        if seeds:  # the same row for other samples: how much of it is the sample's random numbers
            rows.append(_row(f"{label}: noise variance/mean / measured, {len(next(iter(seeds.values())))} other sample "
                             "seeds (min–max)", "; ".join(f"{n} {_num(min(v))}–{_num(max(v))}" for n, v in seeds.items()),
                             "—", "—", "0.8–1.25 (each)", "n/a" if model not in seeds else
                             "yes" if all(0.8 <= v <= 1.25 for v in seeds[model]) else "no"))
        key = "signal_band_shift_from_input_meV" if "signal_band_shift_from_input_meV" in next(iter(tr.values())) \
            else "band_shift_from_input_meV"
        shifts = "; ".join(f"{n} {_num(r.get(key))}" for n, r in tr.items())
        rows.append(_row(f"{label}: magnon band shift from the input (meV, signal part, |Q| 1–1.5 Å⁻¹)", shifts, "—", "—",
                         "|shift| ≤ 0.5", "n/a" if m is None or m.get(key) is None else met(abs(m[key]), at_most=0.5)))
    if real.get("pdcro2"):
        rows.append(_row("translation, unseen temperature/material (PdCrO2 MARI)", real["pdcro2"]))
    sets = data.get("out_of_family") or []
    for oof in ([sets] if isinstance(sets, dict) else sets):
        rows += _family_rows(oof, model_note)
    return rows


def _translation_speed_rows(data: dict) -> list[tuple]:
    """Row of bench_translation_speed.py: structured translation model inference per map (issue 16)."""
    if "predict_ms_per_map" not in data:
        return []
    n = data["size"]
    return [_row(f"structured translation, predict one {n} × {n} map, {data['threads']} thread(s)",
                 f"{_num(data['predict_ms_per_map'])} ms (load {_num(data['load_ms'])} ms)",
                 f"numpy {n}×{n} matmul {_num(data['matmul_ms'])} ms", f"{_num(data['predict_ratio_to_matmul'])}×",
                 "≤ 20 ms", met(data["predict_ms_per_map"], at_most=20.0))]


def _fit_rows(data: dict) -> list[tuple]:
    """Rows of bench_fit.py: Bi2Fe4O9 5 K fit against the data's band and |Q| cut; 300 K prediction."""
    (bc, bw), (fc, fw) = data["band_data"], data["band_fit"]
    dq = data["qpeak_fit"] - data["qpeak_data"]
    rows = [
        _row(f"Bi2Fe4O9 5 K fit (accuracy {data['accuracy']}): 19 meV band centre", f"{fc:.2f} meV", f"data {bc:.2f} meV",
             f"{fc - bc:+.2f} meV", "within 0.3 meV", met(abs(fc - bc), at_most=0.3)),
        _row("Bi2Fe4O9 5 K fit: band FWHM", f"{fw:.2f} meV", f"data {bw:.2f} meV", f"{100 * (fw / bw - 1):+.1f} %",
             "within 15 %", met(abs(fw / bw - 1), at_most=0.15)),
        _row("Bi2Fe4O9 5 K fit: |Q| cut peak (15–25 meV)", f"{data['qpeak_fit']:.2f} 1/Å", f"data {data['qpeak_data']:.2f} 1/Å",
             f"{dq:+.2f} 1/Å", "within 0.05 1/Å", met(abs(dq), at_most=0.05 + 1e-9)),
        _row("Bi2Fe4O9 300 K χ²/N, fitted parameters", _num(data["chi2_per_dof_300K_fitted"]),
             f"defaults {_num(data['chi2_per_dof_300K_default'])}",
             _num(data["chi2_per_dof_300K_default"] / data["chi2_per_dof_300K_fitted"]), "fitted < defaults",
             met(data["chi2_per_dof_300K_default"] - data["chi2_per_dof_300K_fitted"], at_least=0.0)),
    ]
    return rows


def _fit_recovery_rows(data: list) -> list[tuple]:
    """Rows of bench_fit_recovery.py: fraction of noise realisations within 2σ of the truth per model."""
    return [_row(f"fit recovery {r['model']} {r['truth']}", f"{100 * r['within_2sigma']:.0f} % within 2σ",
                 f"scatter/σ {r['scatter_over_sigma'][0]:.2f}", "—", "≥ 90 %", met(r["within_2sigma"], at_least=0.9))
            for r in data]


def _fit_amortised_rows(data: dict) -> list[tuple]:
    """Row of bench_fit_amortised.py (square_afm)."""
    c = data["coverage_68"]
    return [_row("amortised estimator square_afm: 68 % coverage", f"{100 * c:.0f} % of {data['n_test']}",
                 f"uncalibrated {100 * data['coverage_68_uncalibrated']:.0f} %", "—", "60–76 %",
                 met(c, at_least=0.60, at_most=0.76))]


def _fit_amortised_bfo_rows(data: dict) -> list[tuple]:
    """Rows of bench_fit_amortised_bfo.py: Bi2Fe4O9 estimator coverage, baselines, speed, flags."""
    cov = data["coverage_68"]
    lo, hi = min(cov.values()), max(cov.values())
    r = data["rmse_over_box_width"]
    best_base = min(r["nearest_neighbour"], r["linear_ridge"])
    chi = data["real_5K"]["chi2_per_bin"]
    ood = data["out_of_distribution"]
    flagged = sum(1 for v in ood.values() if isinstance(v, dict) and v["flags"])
    return [
        _row("Bi2Fe4O9 amortised estimator: 68 % coverage (5 couplings)", f"{100 * lo:.0f}–{100 * hi:.0f} % of "
             f"{data['n_test']}", "—", "—", "60–76 %", met(lo, at_least=0.60) if hi <= 0.76 else "no"),
        _row("Bi2Fe4O9 estimator: held-out RMSE / prior width", f"{r['network']:.3f}",
             f"nearest neighbour {r['nearest_neighbour']:.3f}, ridge {r['linear_ridge']:.3f}",
             _num(best_base / r["network"]), "beats baselines", met(best_base - r["network"], at_least=0.0)),
        _row("Bi2Fe4O9 estimator: real 5 K map χ²/N at the estimate", _num(chi["network"]),
             f"nearest neighbour {_num(chi['nearest_neighbour'])}, ridge {_num(chi['linear_ridge'])}",
             _num(min(chi["nearest_neighbour"], chi["linear_ridge"]) / chi["network"]), "beats baselines",
             met(min(chi["nearest_neighbour"], chi["linear_ridge"]) - chi["network"], at_least=0.0)),
        _row("Bi2Fe4O9 estimator: one estimate", f"{data['estimate_ms_median']:.1f} ms", "—", "—", "≤ 100 ms",
             met(data["estimate_ms_median"], at_most=100.0)),
        _row("Bi2Fe4O9 estimator: out-of-family / null inputs flagged", f"{flagged} of {len(ood)}",
             f"false alarms on held-out {100 * data['any_flag_rate_test']:.0f} %", "—", "all flagged",
             met(flagged, at_least=len(ood))),
        _row("Bi2Fe4O9 estimator: training set", f"{data['n']} simulations in {data['simulate_s']:.0f} s", "—", "—",
             "≲ 15 min", met(data["simulate_s"], at_most=900.0)),
    ]


def _fit_speed_rows(data: dict) -> list[tuple]:
    """Rows of bench_fit_speed.py: coarse-to-fine vs plain fit (same process), fit from the amortised start."""

    rows = []
    plain = next((f for f in data["fits"] if f["label"].startswith("plain")), None)
    sched = next(f for f in data["fits"] if f["label"].startswith("coarse-to-fine, Le"))
    if plain:
        masked = "; E masked " + ", ".join(f"{lo:g}–{hi:g}" for lo, hi in data["mask_e"]) + " meV" \
            if data.get("mask_e") else ""
        rows.append(_row(f"Bi2Fe4O9 fit, accuracy {data['accuracy']} (coarse {data['coarse_accuracy']}), Le start"
                         f"{masked}",
                         f"{sched['fit_s']:.0f} s, χ²/N {sched['chi2_per_dof']:.1f}",
                         f"plain fit {plain['fit_s']:.0f} s, χ²/N {plain['chi2_per_dof']:.1f}",
                         _num(plain["fit_s"] / sched["fit_s"]), "faster, same χ²",
                         met(plain["fit_s"] - sched["fit_s"], at_least=0.0)))
    am = next((f for f in data["fits"] if f["label"].startswith("coarse-to-fine, amortised")), None)
    if am:
        ok = am["meets_acceptance"]
        rows.append(_row("Bi2Fe4O9 fit from the amortised estimate", f"{am['fit_s']:.0f} s "
                         f"({am['total_with_estimate_and_setup_s']:.0f} s with setup)",
                         f"plain fit {plain['fit_s']:.0f} s" if plain else "—",
                         _num(plain["fit_s"] / am["fit_s"]) if plain else "—", "≤ 60 s on 2 cores",
                         met(am["fit_s"], at_most=60.0)))
        rows.append(_row("Bi2Fe4O9 fit from the amortised estimate: acceptance lines",
                         f"band {am['band_centre_diff_meV']:+.2f} meV, FWHM {100 * am['band_fwhm_rel_diff']:+.0f} %, "
                         f"|Q| {am['qpeak_diff_invA']:+.2f} 1/Å", "—", "—", "0.3 meV, 15 %, 0.05 1/Å",
                         "yes" if ok else "no"))
        both = next((f for f in data["fits"] if f["label"].startswith("coarse-to-fine, Le start + amortised")), None)
        if both:
            rows.append(_row("Bi2Fe4O9 fit from the Le start + the amortised estimate", f"{both['fit_s']:.0f} s, "
                             f"χ²/N {both['chi2_per_dof']:.1f}", f"plain fit {plain['fit_s']:.0f} s" if plain else "—",
                             _num(plain["fit_s"] / both["fit_s"]) if plain else "—", "≤ 60 s; acceptance lines",
                             "yes" if both["fit_s"] <= 60 and both["meets_acceptance"] else "no"))
        rows.append(_row("amortised estimate time", f"{data['estimate_ms_median']:.1f} ms", "—", "—", "≤ 100 ms",
                         met(data["estimate_ms_median"], at_most=100.0)))

    return rows


ROW_BUILDERS = {"fit": _fit_rows, "fit_recovery": _fit_recovery_rows, "fit_amortised": _fit_amortised_rows,
                "fit_amortised_bfo": _fit_amortised_bfo_rows, "fit_speed": _fit_speed_rows,
                "translation_speed": _translation_speed_rows, "translation": _translation_rows, "spinwave": _spinwave_rows, "spinwave_speed": _spinwave_speed_rows, "artefacts": _artefact_rows, "gan_inference": _gan_inference_rows,
                "gan_training": _gan_training_rows, "apply_algorithm": _apply_rows, "reduction": _reduction_rows,
                "gan_quality": _quality_rows}


def build_table(results: dict[str, dict], *, scripts=SCRIPTS) -> str:
    """The markdown table of all results.

    Parameters
    ----------
    results : dict
        Script name → the dict returned by :func:`run_script` (``ok``, ``data``, ``error_tail``, …).
        A script without an entry is listed as not run.
    """
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "|".join("---" for _ in TABLE_HEADER) + "|"]
    for script in scripts:
        result = results.get(script.name)
        if result is None:
            why = f"not run (add --include-{script.include})" if script.optional else "not run"
            rows = [_row(script.filename, why)]
        elif not result.get("ok"):
            why, _, output = result.get("error_tail", "").partition("\n")
            rows = [_row(script.filename, "**failed**", f"{why}\n{_tail(output, lines=3)}", ok="failed")]
        else:
            try:
                rows = ROW_BUILDERS[script.name](result["data"]) or [_row(script.filename, "no numbers in its JSON")]
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                rows = [_row(script.filename, "**failed**", f"unexpected JSON: {type(exc).__name__}: {exc}",
                             ok="failed")]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_report(machine: dict, results: dict[str, dict], *, quick: bool, notes: list[str] = (),
                  scripts=SCRIPTS) -> str:
    """The whole REPORT.md: title, machine header, the table, notes (incl. commands and failure tails)."""
    gpu = machine.get("gpu") or "none"
    threads = ", ".join(f"{k}={v}" for k, v in machine.get("thread_variables", {}).items() if v is not None) or "unset"
    load = machine.get("load_average_1_5_15")
    header = [
        "# insgan benchmark report",
        "",
        f"Generated by `benchmarks/run_all.py{' --quick' if quick else ''}` on {machine.get('date_utc')}.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine.get('cpu')}, {machine.get('logical_cores')} logical cores"
        + (f" ({machine['usable_cores']} usable by this process)" if "usable_cores" in machine else ""),
        f"- RAM: {machine.get('ram_GiB')} GiB",
        f"- OS: {machine.get('os')}",
        f"- Python {machine.get('python')}, numpy {machine.get('numpy')}, torch {machine.get('torch')} "
        f"({machine.get('torch_threads')} torch threads), thread variables: {threads}",
        f"- GPU: {gpu}",
    ]
    if load:
        header.append(f"- load average (1/5/15 min) at start: {', '.join(str(x) for x in load)}"
                      + (f"; at end: {', '.join(str(x) for x in machine['load_average_end'])}"
                         if machine.get("load_average_end") else ""))
    body = ["", "## Results", "", build_table(results, scripts=scripts)]
    note_lines = ["## Notes", ""]
    if quick:
        note_lines.append("- **Quick run** (`--quick`: small sizes, few repeats): a smoke test of the scripts, "
                          "not the benchmark; rerun without `--quick` on a quiet machine for numbers to quote.")
    note_lines += [f"- {n}" for n in notes]
    note_lines += [
        "- Every ratio is measured against the baseline named in its row, run in the same process right "
        "before or after; timings are best-of or median of repeats as each script states "
        "(see `benchmarks/README.md`). 'Met?' compares the measured value with the target of the issue.",
        "- Spin-wave ratios are pySpinW time / insgan time for the same work with the faster insgan backend; "
        "GAN speed-ups are artefact-path time / GAN time per map.",
    ]
    ran = [(s, results[s.name]) for s in scripts if s.name in results]
    if ran:
        note_lines += ["", "Commands (each with `--json` into a temporary folder) and wall times:", ""]
        note_lines += [f"- `{r['command']}`: {r['wall_s']:.0f} s, "
                       + ("ok" if r.get("ok") else "**failed**")
                       for s, r in ran if r.get("wall_s") is not None]
    for s, r in ran:
        if not r.get("ok"):
            note_lines += ["", f"Output tail of the failed `{s.filename}`:", "", "```text",
                           r.get("error_tail", "").strip(), "```"]
    return "\n".join(header + body + note_lines) + "\n"


# -------------------------------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test, minutes)")
    parser.add_argument("--include-quality", action="store_true", help="also run bench_gan_quality.py (long)")
    parser.add_argument("--include-fit", action="store_true",
                        help="also run the fitting benchmarks bench_fit*.py (long: tens of minutes)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="report path (default benchmarks/REPORT.md)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for every script (OMP/BLAS/Rayon variables, torch); default: environment")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SCRIPTS], default=None,
                        help="run only these scripts")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per script (0: no limit)")
    parser.add_argument("--json-dir", type=Path, default=None,
                        help="keep the scripts' JSON results and logs here (default: a temporary folder)")
    parser.add_argument("--note", action="append", default=[], help="extra line for the notes (repeatable)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if not args.output.parent.is_dir():
        parser.error(f"--output: folder '{args.output.parent}' does not exist; create it first")

    scripts = [s for s in SCRIPTS if (args.only is None or s.name in args.only)
               and (not s.optional or getattr(args, f"include_{s.include}") or (args.only and s.name in args.only))]
    machine = machine_info(threads=args.threads)
    json_dir = args.json_dir or Path(tempfile.mkdtemp(prefix="insgan_bench_"))
    json_dir.mkdir(parents=True, exist_ok=True)
    try:
        results = {s.name: run_script(s, json_dir=json_dir, quick=args.quick, threads=args.threads,
                                      timeout_s=args.timeout or None) for s in scripts}
    finally:
        if args.json_dir is None:
            shutil.rmtree(json_dir, ignore_errors=True)
    if hasattr(os, "getloadavg"):
        machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    # without --only every script has a row: one left out says so (and how to include it)
    shown = [s for s in SCRIPTS if args.only is None or s.name in args.only]
    report = render_report(machine, results, quick=args.quick, notes=args.note, scripts=shown)

    from insgan_core.data.io import atomic_path

    with atomic_path(args.output, suffix=".md") as tmp:
        tmp.write_text(report, encoding="utf-8")
        mask = os.umask(0)
        os.umask(mask)
        tmp.chmod(0o666 & ~mask)  # the temporary file is private (0600); give the report the usual mode
    print(f"\n{build_table(results, scripts=shown)}\nreport written to {args.output}")
    failed = [name for name, r in results.items() if not r["ok"]]
    if failed:
        print(f"failed: {', '.join(failed)} (see the report)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
