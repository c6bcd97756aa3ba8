"""The benchmark report builder (benchmarks/run_all.py) on synthetic results, and every script's --help.

No timings are asserted: the table structure, the 'met?' logic, the pySpinW-absent and failed-script rows.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("insgan_bench_run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _cells(line: str) -> list[str]:
    """Cells of one markdown table row (escaped pipes are not separators)."""
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in line[1:-1].replace("\\|", "\0").split("|")]


def _table(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [_cells(line) for line in lines]


def _spinwave(*, with_pyspinw: bool, ratio_two: float = 3.0, ratio_powder: float = 1.5) -> dict:
    jobs = {}
    for key, n_q in (("single_crystal_two_site", 2000), ("single_crystal_sixteen_site", 200), ("powder_two_site", None)):
        job = {"job": f"{key}, {n_q} Q", "insgan_numpy_best_s": 0.02, "insgan_torch_best_s": 0.01}
        if n_q:
            job.update(n_q=n_q, insgan_numpy_q_per_s=n_q / 0.02, insgan_torch_q_per_s=n_q / 0.01)
        if with_pyspinw:
            ratio = ratio_powder if n_q is None else ratio_two
            job["pyspinw_best_s"] = 0.01 * ratio
            if n_q:
                job["pyspinw_q_per_s"] = n_q / job["pyspinw_best_s"]
            job["ratio_pyspinw_time_over_insgan_numpy_time"] = job["pyspinw_best_s"] / 0.02
            job["ratio_pyspinw_time_over_insgan_torch_time"] = job["pyspinw_best_s"] / 0.01
        jobs[key] = job
    return {"benchmark": "spinwave", "pyspinw": "pySpinW 1.1.0b2 (Rust core)" if with_pyspinw else None,
            "backends": ["numpy", "torch"], "jobs": jobs}


SYNTHETIC = {
    "artefacts": {"grid_bins": [100, 100], "rows": [
        {"steps": "full pipeline", "path": "analytic Gaussian", "best_s_per_map": 0.1, "ratio_to_analytic": 1.0},
        {"steps": "full pipeline", "path": "Monte-Carlo, 16 histories/bin", "best_s_per_map": 0.5,
         "ratio_to_analytic": 5.0}]},
    "gan_inference": {"map_bins": [200, 200], "torch_threads": 2, "cpu_batch1_median_ms_per_map": 12.0,
                      "cpu_batch16_median_ms_per_map": 8.0, "target_cpu_batch1_max_ms_per_map": 20.0,
                      "artefact_paths": [
                          {"method": "analytic", "steps": "all", "median_ms_per_map": 120.0, "ratio_to_gan_cpu_batch1": 10.0},
                          {"method": "montecarlo", "steps": "resolution", "median_ms_per_map": 600.0,
                           "ratio_to_gan_cpu_batch1": 50.0}]},
    "gan_training": {"map_bins": [64, 128], "batch_size": 4, "trainers": {
        "paired": {"label": "paired pix2pix (whole maps)", "maps_per_s": 5.0, "baseline_supervised_maps_per_s": 10.0,
                   "ratio_to_baseline": 0.5}}},
    "apply_algorithm": {"workspace_bins": [140, 220], "algorithm_median_ms": 1500.0, "core_median_ms": 300.0,
                        "ratio_algorithm_over_core": 5.0, "target_algorithm_max_ms": 1000.0},
    "reduction": {"file": "x.nxspe", "detectors": 212, "energy_bins": 220, "q_bins": 140,
                  "polygon_best_ms_per_map": 250.0, "centre_best_ms_per_map": 25.0, "ratio_polygon_over_centre": 10.0},
    "gan_quality": {
        "paired": {"steps": 300, "relative_l1_gan_vs_noise_free": 0.05, "relative_l1_clean_vs_noise_free": 1.0,
                   "gap_closed": 0.95, "gap_target": 0.9, "variance_to_mean_counts_gan": 1.3,
                   "variance_to_mean_counts_targets": 1.0, "noise_ratio": 1.3, "noise_target": [0.9, 1.1]},
        "unpaired": {"steps": 300, "patch_distance_gan": 0.4, "patch_distance_clean": 1.0, "reduction": 0.6,
                     "reduction_target": 0.5, "magnon_peaks": [
                         {"shift_meV": 0.5, "resolution_fwhm_meV": 2.0, "within_fwhm": True},
                         {"shift_meV": None, "resolution_fwhm_meV": None, "within_fwhm": False}]}},
}


def _ok(data):
    return {"ok": True, "data": data, "command": "python x", "wall_s": 1.0, "error_tail": ""}


def _rows_named(table, prefix):
    return [row for row in table if row[0].startswith(prefix)]


def test_table_structure_and_met_logic(run_all):
    results = {name: _ok(data) for name, data in SYNTHETIC.items()}
    results["spinwave"] = _ok(_spinwave(with_pyspinw=True, ratio_two=3.0, ratio_powder=1.5))
    table = _table(run_all.build_table(results))
    assert table[0] == list(run_all.TABLE_HEADER)
    assert all(set(c) <= {"-"} for c in table[1]) and len(table[1]) == len(table[0])
    assert all(len(row) == len(table[0]) for row in table), "every row has one cell per column"

    two_site = _rows_named(table, "spin-wave single crystal, 2-site")[0]
    assert two_site[5] == "yes" and "pySpinW 1.1.0b2" in two_site[2]  # 3x vs target >= 2x
    assert two_site[3].startswith("3.00×")  # pySpinW time / the faster (torch) insgan time
    powder = _rows_named(table, "spin-wave powder")[0]
    assert powder[5] == "no"  # 1.5x vs target >= 4x
    gan = _rows_named(table, "GAN inference, CPU (2 threads), batch 1")[0]
    assert gan[5] == "yes" and "12.0 ms/map" in gan[1]  # 12 ms vs <= 20 ms
    speedups = _rows_named(table, "GAN inference vs")
    assert [r[3] for r in speedups] == ["speed-up 10.0×", "speed-up 50.0×"]
    apply_row = _rows_named(table, "ApplyINSGAN end to end")[0]
    assert apply_row[5] == "no"  # 1500 ms vs < 1000 ms
    assert _rows_named(table, "training throughput, paired")[0][1] == "5.00 maps/s"
    assert _rows_named(table, "powder reduction polygon vs centre")[0][3] == "polygon / centre time 10.0×"
    assert _rows_named(table, "artefact path Monte-Carlo")[0][3] == "MC / analytic time 5.00×"
    quality = {row[0].split(":")[1].strip(): row[5] for row in _rows_named(table, "GAN quality")}
    assert list(quality.values()) == ["yes", "no", "yes", "no"]  # 0.95 ≥ 0.9; 1.3 outside 0.9–1.1; 0.6 ≥ 0.5; a peak lost

    del results["gan_quality"]
    assert _rows_named(_table(run_all.build_table(results)), "bench_gan_quality.py")[0][1].startswith("not run")


def test_met_bounds(run_all):
    assert run_all.met(2.0, at_least=2.0) == "yes"
    assert run_all.met(1.99, at_least=2.0) == "no"
    assert run_all.met(20.0, at_most=20.0) == "yes"
    assert run_all.met(1.2, at_least=0.9, at_most=1.1) == "no"
    assert run_all.met(None, at_least=1.0) == "n/a"


def test_pyspinw_absent_and_failed_script(run_all):
    results = {"spinwave": _ok(_spinwave(with_pyspinw=False)),
               "reduction": {"ok": False, "data": None, "command": "python benchmarks/bench_reduction.py",
                             "wall_s": 0.5, "error_tail": "exit code 1\nTraceback ...\nValueError: bad | pipe"}}
    markdown = run_all.build_table(results)
    table = _table(markdown)
    assert all(len(row) == len(run_all.TABLE_HEADER) for row in table)
    for row in _rows_named(table, "spin-wave"):
        assert row[2] == "pySpinW not installed" and row[5] == "n/a" and row[3] == "—"
    failed = _rows_named(table, "bench_reduction.py")[0]
    assert failed[1] == "**failed**" and failed[5] == "failed" and "ValueError: bad" in failed[2]
    assert "bad \\| pipe" in markdown  # the pipe in the error is escaped, not a new column
    assert _rows_named(table, "bench_artefacts.py")[0][1] == "not run"

    machine = {"date_utc": "2026-01-01 00:00 UTC", "cpu": "Test CPU", "logical_cores": 2, "ram_GiB": 4.0,
               "os": "Linux", "python": "3.x", "numpy": "2", "torch": "2", "torch_threads": 2, "gpu": None}
    report = run_all.render_report(machine, results, quick=True, notes=["quick run on a shared, loaded machine"])
    assert report.startswith("# insgan benchmark report")
    assert "Test CPU" in report and "GPU: none" in report and "shared, loaded machine" in report
    assert "Output tail of the failed `bench_reduction.py`" in report
    assert run_all.build_table(results) in report


def test_machine_info_has_the_header_fields(run_all):
    info = run_all.machine_info()
    for key in ("cpu", "logical_cores", "ram_GiB", "os", "python", "numpy", "torch", "torch_threads", "gpu", "date_utc"):
        assert key in info


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("bench_*.py")) + ["run_all.py"])
def test_every_script_has_help_with_json(script):
    proc = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout
    if script != "run_all.py":
        assert "--json" in proc.stdout


def test_fit_rows_and_optional_fit_scripts(run_all):
    """The fitting benchmarks are optional (--include-fit), pass the estimator file between them, and their
    rows compare against the issue's targets."""
    by_name = {s.name: s for s in run_all.SCRIPTS}
    for name in ("fit", "fit_recovery", "fit_amortised", "fit_amortised_bfo", "fit_speed"):
        assert by_name[name].optional and by_name[name].include == "fit"
    names = [s.name for s in run_all.SCRIPTS]
    assert names.index("fit_amortised_bfo") < names.index("fit_speed")
    assert "{json_dir}/bfo_estimator.safetensors" in by_name["fit_speed"].extra_args
    fit = {"label": "x", "fit_s": 45.0, "chi2_per_dof": 10.0, "band_centre_diff_meV": 0.1, "band_fwhm_rel_diff": -0.2,
           "qpeak_diff_invA": 0.0, "meets_acceptance": False, "total_with_estimate_and_setup_s": 50.0}
    speed = {"accuracy": 0.05, "coarse_accuracy": 0.2, "estimate_ms_median": 30.0,
             "fits": [dict(fit, label="plain fit, Le start", fit_s=180.0), dict(fit, label="coarse-to-fine, Le start"),
                      dict(fit, label="coarse-to-fine, amortised start (+8 posterior draws)", fit_s=70.0)]}
    table = _table(run_all.build_table({"fit_speed": _ok(speed)}, scripts=[by_name["fit_speed"]]))
    rows = {r[0]: r for r in table[1:]}
    am = rows["Bi2Fe4O9 fit from the amortised estimate"]
    assert am[-1] == "no" and am[3] == "2.57"  # 70 s > 60 s; 180/70
    assert rows["Bi2Fe4O9 fit from the amortised estimate: acceptance lines"][-1] == "no"
    assert rows["amortised estimate time"][-1] == "yes"
    missing = _table(run_all.build_table({}, scripts=[by_name["fit"]]))
    assert "add --include-fit" in missing[-1][1]
