# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-material powder forward model: speed at a measured accuracy, reuse, pySpinW, convergence (issue 12).

Jobs, all in one process (ratios against baselines timed in the same run):

(a) Bi2Fe4O9 library model on the MERLIN grid (140 |Q| bins 0.1:0.04:5.7 Å⁻¹ × 120 E bins −10:0.5:50 meV,
    the grid of ``insgan simulate bi2fe4o9 --grid bi2fe4o9_Ei62_5K.nxspe --q-bins 0.1,0.04,5.7
    --e-bins=-10,0.5,50``), 5 K: the previous method (1597 random directions per shell, float64) against
    the powder plan (default accuracy and others), the plan re-used for a new parameter set, and a batched
    numpy eigh of 20,000 random 16 × 16 Hermitian matrices; relative L1 of each map to a reference of
    20,000 directions per shell (float64), for unbroadened histograms and for 2 meV FWHM Gaussian
    broadening. The zone-folded method (powder_zone, ``--zone-accuracies``): first call, plan build,
    re-use for a new parameter set, and relative L1 against the first reference and against the mean of it
    and an independent second reference (seed 99; their difference is printed: the references' own error).
    The ≤ 1 % line of issue 12 is judged at 2 meV FWHM: unbroadened, two 20,000-direction references differ
    by ~3.6 %, so they cannot judge 1 % there.
(b) pySpinW (optional import): 2-site powder map (100 |Q| × 150 E, pySpinW's 1597 Fibonacci directions)
    at equal or lower quadrature error, and 16-site single crystal Q/s.
(c) convergence: relative L1 vs directions per shell for three models, previous method vs plan; written
    as a PNG (``--figure``).
(d) GPU throughput when CUDA is available; otherwise prints "no GPU".
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")
HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
REFERENCE_MODELS = REPO_ROOT / "tests" / "reference" / "pyspinw" / "reference_models.py"


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _rel_l1(a, b):
    import numpy as np

    return float(np.abs(a - b).sum() / np.abs(b).sum())


def _reference_map(model, q_edges, e_edges, *, temperature_K, fwhms, n_full, shells_per_plan=10, seed=1234,
                   form_factor=True):
    """Maps with ``n_full`` directions per shell (±Q-paired hemisphere, float64), built shell group by group."""
    import numpy as np

    from insgan_core.spinwave import PowderPlan

    out = {fw: [] for fw in fwhms}
    nq = len(q_edges) - 1
    for start in range(0, nq, shells_per_plan):
        edges = q_edges[start:min(nq, start + shells_per_plan) + 1]
        plan = PowderPlan(model, q_edges=edges, e_edges=e_edges, n_points=n_full, symmetry=False, seed=seed,
                          dtype="float64", form_factor=form_factor)
        E, S = plan.modes()
        for fw in fwhms:
            out[fw].append(_bin(plan, E, S, temperature_K, fw))
    return {fw: np.concatenate(v) for fw, v in out.items()}


def _bin(plan, E, S, temperature_K, fwhm):
    import numpy as np

    from insgan_core.spinwave.bose import bose_factor
    from insgan_core.spinwave.broadening import histogram_modes

    a = np.abs(E)
    energies = np.concatenate([a, -a], axis=1)
    w = 0.5 * np.concatenate([S, S], axis=1) * bose_factor(energies, temperature_K=temperature_K)
    width = None if fwhm is None else (lambda e: np.full(np.shape(e), fwhm))
    return histogram_modes(energies, w * plan.weights[:, None], plan.rows, plan.q_axis.centres.size,
                           plan.e_axis.edges, width=width)


def bi2fe4o9_job(args) -> dict:
    import numpy as np

    from insgan_core.spinwave import PowderPlan, load_model, powder_map
    from insgan_core.spinwave.parallel import single_blas_thread

    model = load_model("bi2fe4o9")
    q_edges = np.round(np.arange(0.1, 5.7 + 1e-9, 0.04), 10)
    e_edges = np.round(np.arange(-10.0, 50.0 + 1e-9, 0.5), 10)
    if args.quick:
        q_edges = q_edges[::10]
    T = 5.0
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20000, 16, 16)) + 1j * rng.normal(size=(20000, 16, 16))
    H = A + np.conj(np.swapaxes(A, 1, 2))
    with single_blas_thread():
        np.linalg.eigh(H[:100])
        eigh_s = min(_timed(lambda: np.linalg.eigh(H))[1] for _ in range(3))
    row = {"grid": f"{len(q_edges) - 1} |Q| x {len(e_edges) - 1} E", "temperature_K": T, "eigh_20000_16x16_s": eigh_s}
    print(f"(a) Bi2Fe4O9, MERLIN grid {row['grid']}, {T:g} K")
    print(f"    batched numpy eigh, 20,000 random 16x16 Hermitian: {eigh_s:.3f} s")
    fwhms = (None, 2.0)
    old = {}
    old_maps = {}
    for fw in fwhms:
        smap, t = _timed(lambda: powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=T,
                                            n_directions=1597, fwhm_meV=fw))
        old[fw] = t
        old_maps[fw] = smap.signal
    row["old_s"] = old[None]
    print(f"    previous method (1597 random directions/shell, float64): {old[None]:.2f} s "
          f"({old[None] / eigh_s:.1f}x the eigh workload)")
    ref, t_ref = _timed(lambda: _cached_reference(args, "ref1", lambda: _reference_map(
        model, q_edges, e_edges, temperature_K=T, fwhms=fwhms, n_full=args.reference_directions)))
    print(f"    reference ({args.reference_directions} directions/shell, float64): {t_ref:.1f} s")
    ref2 = None
    if args.second_reference:
        # an independent second reference (other seed): its difference to the first measures the references'
        # own quadrature error, and their mean is the reference the zone method is judged against
        ref2, t_ref2 = _timed(lambda: _cached_reference(args, "ref2", lambda: _reference_map(
            model, q_edges, e_edges, temperature_K=T, fwhms=fwhms, n_full=args.reference_directions, seed=99)))
        row["reference_self_difference"] = {str(fw): _rel_l1(ref2[fw], ref[fw]) for fw in fwhms}
        print(f"    second reference (seed 99): {t_ref2:.1f} s; rel. L1 between the two references: histogram "
              f"{row['reference_self_difference']['None']:.4f}, 2 meV {row['reference_self_difference']['2.0']:.4f} "
              "(each reference's own error is about this / sqrt 2, their mean's about half)")
    row["reference_directions"] = args.reference_directions
    row["old_rel_l1"] = {str(fw): _rel_l1(old_maps[fw], ref[fw]) for fw in fwhms}
    print(f"    previous method rel. L1: histogram {row['old_rel_l1']['None']:.4f}, 2 meV FWHM {row['old_rel_l1']['2.0']:.4f}")
    row["zone"] = _zone_rows(args, model, q_edges, e_edges, T, fwhms, ref, ref2, eigh_s, old[None])
    row["plans"] = []
    for accuracy in args.accuracies:
        entry = {"accuracy": accuracy}
        smap, t_first = _timed(lambda: powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=T,
                                                  accuracy=accuracy, error_estimate=False, method="plan"))
        entry["first_call_s"] = t_first
        smap, t_est = _timed(lambda: powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=T,
                                                accuracy=accuracy, method="plan"))
        entry["with_error_estimate_s"] = t_est
        entry["estimated_rel_l1_histogram"] = smap.metadata.provenance["spinwave"]["quadrature_error"]["estimated_relative_L1"]
        plan = PowderPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy)
        other = model.with_parameters(J33=22.0, J43p=6.0)
        plan.signal(other, temperature_K=T)
        entry["reuse_s"] = min(_timed(lambda: plan.signal(other, temperature_K=T))[1] for _ in range(2))
        entry["computed_directions"] = int(plan.n_reduced.sum())
        entry["directions_full_sphere"] = [int(plan.n_full.min()), int(plan.n_full.max())]
        entry["rel_l1"] = {}
        for fw in fwhms:
            s = plan.signal(temperature_K=T, fwhm_meV=fw)
            entry["rel_l1"][str(fw)] = _rel_l1(s, ref[fw])
        entry["estimated_rel_l1_2meV"] = plan.error_estimate(temperature_K=T, fwhm_meV=2.0)["estimated_relative_L1"]
        entry["speedup_vs_old"] = old[None] / t_first
        entry["ratio_to_eigh"] = t_first / eigh_s
        row["plans"].append(entry)
        print(f"    plan accuracy={accuracy:g}: {entry['computed_directions']} directions computed "
              f"({entry['directions_full_sphere'][0]}-{entry['directions_full_sphere'][1]} full-sphere/shell); "
              f"first call {t_first:.2f} s ({entry['speedup_vs_old']:.1f}x faster than previous, "
              f"{entry['ratio_to_eigh']:.2f}x eigh), with error estimate {t_est:.2f} s, re-used plan new "
              f"parameters {entry['reuse_s']:.2f} s; rel. L1 histogram {entry['rel_l1']['None']:.4f} "
              f"(estimate {entry['estimated_rel_l1_histogram']:.4f}), 2 meV {entry['rel_l1']['2.0']:.4f} "
              f"(estimate {entry['estimated_rel_l1_2meV']:.4f})")
    return row


def _cached_reference(args, name, build):
    """A reference map from ``--reference-cache`` (npz written by an earlier run with the same settings) or built."""
    import numpy as np

    if args.reference_cache is None:
        return build()
    path = Path(args.reference_cache) / f"bi2fe4o9_{name}_{args.reference_directions}{'_quick' if args.quick else ''}.npz"
    if path.exists():
        data = np.load(path)
        return {None: data["histogram"], 2.0: data["fwhm2"]}
    out = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, histogram=out[None], fwhm2=out[2.0])
    os.replace(tmp, path)
    return out


def _zone_rows(args, model, q_edges, e_edges, T, fwhms, ref, ref2, eigh_s, old_s) -> list:
    """Zone-folded method (powder_zone) at several accuracies: first call, re-use, relative L1."""
    from insgan_core.spinwave import powder_map
    from insgan_core.spinwave.powder_zone import ZonePlan

    rows = []
    for accuracy in args.zone_accuracies:
        entry = {"accuracy": accuracy}
        smap, t_first = _timed(lambda: powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=T,
                                                  method="zone", accuracy=accuracy, fwhm_meV=2.0))
        entry["first_call_s"] = t_first
        entry["describe"] = smap.metadata.provenance["spinwave"]["powder_zone"]
        entry["predicted_rel_l1"] = smap.metadata.provenance["spinwave"]["quadrature_error"]["predicted_relative_L1"]
        zp, t_build = _timed(lambda: ZonePlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy))
        entry["plan_build_s"] = t_build
        other = model.with_parameters(J33=22.0, J43p=6.0)
        entry["reuse_s"] = min(_timed(lambda: zp.signal(other, temperature_K=T, fwhm_meV=2.0))[1] for _ in range(2))
        entry["rel_l1"], entry["rel_l1_mean_reference"] = {}, {}
        for fw in fwhms:
            s = zp.signal(temperature_K=T, fwhm_meV=fw)
            entry["rel_l1"][str(fw)] = _rel_l1(s, ref[fw])
            if ref2 is not None:
                entry["rel_l1_mean_reference"][str(fw)] = _rel_l1(s, 0.5 * (ref[fw] + ref2[fw]))
        entry["ratio_to_eigh"] = t_first / eigh_s
        entry["reuse_ratio_to_eigh"] = entry["reuse_s"] / eigh_s
        entry["speedup_vs_old"] = old_s / t_first
        d = entry["describe"]
        mean = entry["rel_l1_mean_reference"]
        print(f"    zone accuracy={accuracy:g}: grid {d['grid']} ({d['k_points']} k, {d['diagonalisations']} "
              f"diagonalisations, {d['direction_plan_bins']} low-|Q| bins by directions); first call {t_first:.2f} s "
              f"({entry['ratio_to_eigh']:.2f}x eigh, {entry['speedup_vs_old']:.1f}x faster than previous), plan build "
              f"{t_build:.2f} s, re-used plan new parameters {entry['reuse_s']:.2f} s ({entry['reuse_ratio_to_eigh']:.2f}x "
              f"eigh); rel. L1 histogram {entry['rel_l1']['None']:.4f}, 2 meV {entry['rel_l1']['2.0']:.4f}"
              + (f"; vs mean of both references: histogram {mean['None']:.4f}, 2 meV {mean['2.0']:.4f}" if mean else "")
              + f" (predicted {entry['predicted_rel_l1']:.4f})")
        rows.append(entry)
    return rows


def pyspinw_job(args) -> dict:
    import numpy as np

    from insgan_core.spinwave import PowderPlan, SpinWaveCalculator, fibonacci_sphere

    if importlib.util.find_spec("pyspinw") is None:
        print("(b) pySpinW not importable: peer comparison skipped (install pyspinw==1.1.0b2 in a separate "
              "environment and run this script with its Python)")
        return {"pyspinw": None}
    from pyspinw import Powder
    from pyspinw.versions import get_version

    spec = importlib.util.spec_from_file_location("pyspinw_reference_models", REFERENCE_MODELS)
    refmodels = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refmodels)
    out = {"pyspinw": get_version()}
    print(f"(b) pySpinW {get_version()}")
    # powder, 2-site cell, the job of bench_spinwave.py
    md = refmodels.benchmark_models()["two_site"]
    model = refmodels.build_insgan(md)
    n_q, n_e, n_dir = (20, 50, 233) if args.quick else (100, 150, 1597)
    q_edges = np.linspace(0.05, 5.05, n_q + 1)
    e_edges = np.linspace(0.0, 30.0, n_e + 1)
    qc = 0.5 * (q_edges[1:] + q_edges[:-1])
    powder = Powder(refmodels.build_pyspinw(md))
    run = lambda: powder.spectrum(qc, n_samples=n_dir, min_energy=0.0, max_energy=30.0, n_energy_bins=n_e)  # noqa: E731
    run()
    t_py = min(_timed(run)[1] for _ in range(2))
    # pySpinW's quadrature error = that of its point set (the same unrotated Fibonacci lattice on every
    # shell), evaluated with insgan's solver (per-Q agreement with pySpinW ~1e-10, tests/reference)
    calc = SpinWaveCalculator(model)
    lat = model.resolve().lattice
    dirs = fibonacci_sphere(n_dir)

    def hist_of(points_per_shell):
        from insgan_core.spinwave.broadening import histogram_modes

        q = np.concatenate([qq * points_per_shell for qq in qc])
        E, W = calc.spectrum(lat.q_rlu(q), form_factor=False)
        rows = np.repeat(np.arange(n_q), len(points_per_shell))
        return histogram_modes(E, W / len(points_per_shell), rows, n_q, e_edges)

    ref = _reference_map(model, q_edges, e_edges, temperature_K=0.0, fwhms=(None,),
                         n_full=args.reference_directions, shells_per_plan=25, form_factor=False)[None]
    # errors over E > 1 meV: the lowest bins hold the Goldstone modes' 1/ω weight, which no finite
    # sample converges (one direction near the zone centre dominates them)
    keep = 0.5 * (e_edges[1:] + e_edges[:-1]) > 1.0
    ref = ref[:, keep]
    err_py = _rel_l1(hist_of(dirs)[:, keep], ref)
    best = None
    for accuracy in (0.2, 0.14, 0.1, 0.07, 0.05, 0.035, 0.025):
        plan = PowderPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy, form_factor=False)
        err = _rel_l1(plan.signal()[:, keep], ref)
        if err <= err_py:
            best = (accuracy, plan, err)
            break
    if best is None:
        print(f"    powder: no plan accuracy up to 0.025 reached pySpinW's quadrature error {err_py:.4f}")
        out["powder"] = {"pyspinw_s": t_py, "pyspinw_rel_l1": err_py}
    else:
        accuracy, plan, err = best

        def ours():
            p = PowderPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy, form_factor=False)
            return p.signal()

        ours()
        t_ours = min(_timed(ours)[1] for _ in range(2))
        t_reuse = min(_timed(lambda: plan.signal())[1] for _ in range(2))
        out["powder"] = {"pyspinw_s": t_py, "pyspinw_rel_l1": err_py, "insgan_s": t_ours, "insgan_reuse_s": t_reuse,
                         "insgan_rel_l1": err, "accuracy": accuracy, "ratio": t_py / t_ours,
                         "job": f"{n_q} |Q| x {n_dir} directions x {n_e} E, L1 over E > 1 meV"}
        print(f"    powder 2-site ({n_q} |Q| x {n_dir} dirs x {n_e} E): pySpinW {t_py * 1e3:.0f} ms at rel. L1 {err_py:.4f}; "
              f"insgan plan (accuracy {accuracy:g}) {t_ours * 1e3:.0f} ms incl. plan build, {t_reuse * 1e3:.0f} ms "
              f"re-used, rel. L1 {err:.4f}: {t_py / t_ours:.1f}x")
    # single crystal, 16-site cell
    md16 = refmodels.benchmark_models()["sixteen_site"]
    q = np.random.default_rng(0).uniform(-1.0, 1.0, size=(200 if args.quick else 2000, 3))
    ham = refmodels.build_pyspinw(md16)
    t16_py = min(_timed(lambda: ham._energies_and_intensities(q, intensity_unit="spin"))[1] for _ in range(3))
    res = {}
    # numpy/torch: complex128 throughout; numpy_float32: complex64 Cholesky + eigh with complex128
    # refinement of soft / failed Q (SpinWaveCalculator(precision="float32"), <= 1e-3 relative, tested)
    variants = {"numpy": {}, "torch": {"backend": "torch"}, "numpy_float32": {"precision": "float32"}}
    ref_modes = None
    for name, kw in variants.items():
        c = SpinWaveCalculator(refmodels.build_insgan(md16), **kw)
        E, S = c.dispersion(q)
        if ref_modes is None:
            ref_modes = (E, S)
        else:  # sanity: same energies as the complex128 numpy path
            assert np.abs(E - ref_modes[0]).max() <= 1e-3 * np.abs(ref_modes[0]).max(), name
        res[name] = min(_timed(lambda: c.dispersion(q))[1] for _ in range(3))
    best_b = min(res, key=res.get)
    out["single_crystal_16"] = {"pyspinw_q_per_s": len(q) / t16_py,
                                **{f"insgan_{b}_q_per_s": len(q) / t for b, t in res.items()},
                                "ratio": t16_py / res[best_b], "ratio_float64": t16_py / min(res["numpy"], res["torch"]),
                                "best": best_b}
    print(f"    single crystal 16-site ({len(q)} Q): pySpinW {len(q) / t16_py:,.0f} Q/s; insgan numpy "
          f"{len(q) / res['numpy']:,.0f} Q/s, torch {len(q) / res['torch']:,.0f} Q/s, numpy float32 (refined) "
          f"{len(q) / res['numpy_float32']:,.0f} Q/s: {t16_py / res[best_b]:.2f}x ({best_b}); "
          f"complex128 only {out['single_crystal_16']['ratio_float64']:.2f}x")
    return out


def convergence_job(args) -> dict:
    import numpy as np

    from insgan_core.spinwave import PowderPlan, load_model, powder_map

    cases = [("bi2fe4o9", np.array([0.9, 0.94, 2.5, 2.54, 4.5, 4.54]), 2.0),
             ("kagome_q0", np.array([0.9, 0.94, 2.5, 2.54, 4.5, 4.54]), 1.0),
             ("square_afm", np.array([0.9, 0.94, 2.5, 2.54, 4.5, 4.54]), 1.0)]
    e_edges = np.arange(-10.0, 50.0 + 1e-9, 0.5)
    sizes = [100, 300, 1000, 3000] if args.quick else [100, 300, 1000, 3000, 10000]
    out = {}
    for name, q_edges, fw in cases:
        model = load_model(name)
        ref = _reference_map(model, q_edges, e_edges, temperature_K=5.0, fwhms=(fw,), n_full=args.reference_directions,
                             seed=777)[fw][::2]
        rows = {"directions": sizes, "previous": [], "plan": [], "plan_computed": [], "plan_no_symmetry": []}
        for n in sizes:
            old = powder_map(model, q_edges=q_edges, e_edges=e_edges, temperature_K=5.0, fwhm_meV=fw, n_directions=n)
            rows["previous"].append(_rel_l1(old.signal[::2], ref))
            plan = PowderPlan(model, q_edges=q_edges, e_edges=e_edges, n_points=n)
            rows["plan"].append(_rel_l1(plan.signal(temperature_K=5.0, fwhm_meV=fw)[::2], ref))
            rows["plan_computed"].append(int(plan.n_reduced.max()))
            plan2 = PowderPlan(model, q_edges=q_edges, e_edges=e_edges, n_points=n, symmetry=False)
            rows["plan_no_symmetry"].append(_rel_l1(plan2.signal(temperature_K=5.0, fwhm_meV=fw)[::2], ref))
        rows["symmetry_operations"] = int(len(plan.rule_operations))
        rows["fwhm_meV"] = fw
        out[name] = rows
        print(f"(c) {name} (FWHM {fw} meV, |Q| = {q_edges[0::2] + 0.02}): directions {sizes}")
        for key in ("previous", "plan_no_symmetry", "plan"):
            print(f"    {key:17s} rel. L1 " + " ".join(f"{v:.4f}" for v in rows[key]))
        print(f"    plan computes {rows['plan_computed']} directions per shell ({rows['symmetry_operations']} operations)")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(out), figsize=(4.2 * len(out), 3.6), sharey=True)
        for ax, (name, rows) in zip(np.atleast_1d(axes), out.items()):
            n = np.array(rows["directions"])
            ax.loglog(n, rows["previous"], "o-", label="previous (random rotation, full sphere)")
            ax.loglog(np.ceil(n / 2), rows["plan_no_symmetry"], "s-", label="plan, ±Q pairing only")
            ax.loglog(rows["plan_computed"], rows["plan"], "^-", label=f"plan, {rows['symmetry_operations']} operations")
            ax.loglog(n, rows["previous"][0] * np.sqrt(n[0] / n), "k:", lw=0.8, label="∝ N^-1/2")
            ax.set_title(f"{name}, FWHM {rows['fwhm_meV']} meV")
            ax.set_xlabel("directions computed per |Q| shell")
            ax.grid(True, which="both", alpha=0.3)
        np.atleast_1d(axes)[0].set_ylabel("relative L1 to reference")
        np.atleast_1d(axes)[0].legend(fontsize=7)
        fig.tight_layout()
        tmp = args.figure.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, args.figure)
        print(f"    figure: {args.figure}")
    return out


def gpu_job(args) -> dict:
    import torch

    if not torch.cuda.is_available():
        print("(d) no GPU (torch.cuda.is_available() is False): GPU throughput not measured")
        return {"gpu": None}
    import numpy as np

    from insgan_core.spinwave import PowderPlan, load_model

    model = load_model("bi2fe4o9")
    q_edges = np.arange(0.1, 5.7 + 1e-9, 0.04)
    e_edges = np.arange(-10.0, 50.0 + 1e-9, 0.5)
    plan = PowderPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=0.03, device="cuda")
    plan.modes(workers=1, chunk=1 << 17)
    torch.cuda.synchronize()
    t = min(_timed(lambda: plan.modes(workers=1, chunk=1 << 17))[1] for _ in range(3))
    rate = plan.n_points / t
    print(f"(d) GPU {torch.cuda.get_device_name()}: {rate:,.0f} diagonalisations/s (Bi2Fe4O9, 16x16, float32)")
    return {"gpu": torch.cuda.get_device_name(), "diagonalisations_per_s": rate}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP/torch threads (set before imports)")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--accuracies", type=lambda s: [float(x) for x in s.split(",")], default=[0.1, 0.05, 0.025])
    parser.add_argument("--reference-directions", type=int, default=20000)
    parser.add_argument("--zone-accuracies", type=lambda s: [float(x) for x in s.split(",")],
                        default=[0.03, 0.02, 0.012], help="accuracies of the zone-folded method rows of (a)")
    parser.add_argument("--no-second-reference", dest="second_reference", action="store_false",
                        help="(a): skip the independent second reference (halves the reference time)")
    parser.add_argument("--reference-cache", default=None, metavar="DIR",
                        help="(a): keep the reference maps as .npz in DIR and re-use them in later runs")
    parser.add_argument("--skip", default="", help="comma-separated jobs to skip: a,b,c,d")
    parser.add_argument("--figure", type=Path, default=HERE / "spinwave_convergence.png")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.reference_directions = min(args.reference_directions, 3000)
        args.accuracies = args.accuracies[:1]
        args.zone_accuracies = args.zone_accuracies[:1]
        args.figure = None
    if args.threads is not None:
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    skip = set(args.skip.split(","))
    results = {"benchmark": "spinwave_speed", "quick": args.quick}
    for key, job in (("a", bi2fe4o9_job), ("b", pyspinw_job), ("c", convergence_job), ("d", gpu_job)):
        if key not in skip:
            try:
                results[key] = job(args)
            except Exception as exc:  # report and go on with the other jobs
                import traceback

                traceback.print_exc()
                print(f"({key}) FAILED: {type(exc).__name__}: {exc}")
                results[key] = {"error": f"{type(exc).__name__}: {exc}"}
    if args.json is not None:
        from results_json import write_json

        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
