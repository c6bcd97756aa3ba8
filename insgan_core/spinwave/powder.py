"""Powder-averaged S(|Q|, E) of a spin-wave model on given bin edges."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from ..data.grid import check_edges
from ..data.ins_map import INSMap, MapMetadata
from ..errors import InsganInputError
from .broadening import histogram_modes, resolve_width
from .calculator import SpinWaveCalculator
from .model import SIGN_CONVENTION, SpinWaveModel
from .parallel import single_blas_thread

__all__ = ["fibonacci_sphere", "shell_directions", "powder_map", "DEFAULT_METHOD"]

#: integrator of :func:`powder_map` when neither ``n_directions`` nor ``method`` is given
DEFAULT_METHOD = "plan"

_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


def fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (n, 3) on the sphere (Fibonacci lattice, equal-area rings)."""
    if int(n) < 1:
        raise InsganInputError(f"n_directions = {n}; give at least 1 direction per |Q| shell")
    i = np.arange(int(n))
    z = 1.0 - (2.0 * i + 1.0) / n
    r = np.sqrt(1.0 - z * z)
    phi = _GOLDEN_ANGLE * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def shell_directions(n_shells: int, n_directions: int, *, seed: int = 0) -> np.ndarray:
    """Fibonacci directions, randomly rotated per shell (seeded): shape (n_shells, n_directions, 3)."""
    base = fibonacci_sphere(n_directions)
    rot = Rotation.random(n_shells, random_state=np.random.default_rng(seed)).as_matrix()
    return np.einsum("sab,db->sda", rot.reshape(n_shells, 3, 3), base)


def powder_map(
    model: SpinWaveModel,
    *,
    q_edges,
    e_edges,
    temperature_K: float = 0.0,
    fwhm_meV: float | None = None,
    width_function: Callable | None = None,
    n_directions: int | None = None,
    seed: int = 0,
    form_factor: bool = True,
    backend: str = "numpy",
    device: str = "cpu",
    units: str = "spin",
    oversample: int = 4,
    workers: int | None = None,
    calculator: SpinWaveCalculator | None = None,
    accuracy: float | None = None,
    plan=None,
    error_estimate: bool = True,
    refine: bool = False,
    method: str | None = None,
    zone_grid=None,
) -> INSMap:
    """Powder-averaged S(|Q|, E) on exactly the given bin edges.

    Parameters
    ----------
    model : SpinWaveModel
    q_edges : array_like (nq + 1,)
        |Q| bin edges in Å⁻¹ (≥ 0, increasing); one shell at each bin centre.
    e_edges : array_like (ne + 1,)
        Energy-transfer bin edges in meV (increasing; may start below 0 for energy gain at T > 0).
    temperature_K : float
        Sample temperature for the Bose factor (0: energy loss only).
    fwhm_meV : float, optional
        Constant Gaussian FWHM in meV.
    width_function : callable, optional
        E (meV array) -> FWHM (meV array), e.g. an instrument resolution.
    n_directions : int or None
        None (default): the integrator named by ``method`` — the zone-folded grid
        (:mod:`~insgan_core.spinwave.powder_zone`) or a
        :class:`~insgan_core.spinwave.powder_plan.PowderPlan`, deterministic quadrature
        with the directions per shell chosen from ``accuracy`` (more at larger |Q|), reduced by the
        spectrum's symmetry and the ±Q pairing, single precision where accurate (see that module). An
        integer: the previous method, that many directions per shell (Fibonacci sphere, randomly rotated per
        shell with ``seed``), float64.
    form_factor : bool
        Multiply by the magnetic form factor of each site's ion.
    backend, device : str
        Solver backend (``"numpy"`` or ``"torch"``) and torch device.
    units : {"spin", "mbarn"}
        S⊥ per magnetic site per meV, or mbarn sr⁻¹ meV⁻¹ per magnetic site.
    workers : int or None
        Threads for the batched diagonalisation; None: automatic (see :class:`SpinWaveCalculator`).
    calculator : SpinWaveCalculator, optional
        Reuse a calculator (its backend then wins); implies the ``n_directions`` method (1597 if None).
    accuracy : float, optional
        Target relative L1 quadrature error of the map (calibrated with 2 meV FWHM broadening): the zone
        method has (1.58/accuracy)² points (:func:`~insgan_core.spinwave.powder_zone.grid_for_accuracy`),
        the plan method sizes its directions per shell (default
        :data:`~insgan_core.spinwave.powder_plan.DEFAULT_ACCURACY`); the estimate actually reached is in
        the provenance (``quadrature_error``).
    plan : PowderPlan, optional
        Reuse a plan built for this model's geometry and exactly these bin edges (a new parameter set then
        redoes only the Hamiltonian, the diagonalisations and the binning).
    error_estimate : bool
        Estimate the quadrature error of the default method (about 6 % extra time).
    method : {None, "zone", "plan"}
        Powder integrator when ``n_directions`` and ``calculator`` are not given. "zone": zone folding
        (:class:`~insgan_core.spinwave.powder_zone.ZonePlan`: one diagonalisation per point of a
        Brillouin-zone grid serves one Q = k + G in every |Q| bin; ``accuracy`` sets the grid). "plan":
        the direction quadrature of :class:`~insgan_core.spinwave.powder_plan.PowderPlan`. None: the
        default, :data:`DEFAULT_METHOD`. A ``plan`` argument selects its own method.
    zone_grid : sequence of 3 ints, optional
        Zone method: grid divisions along a*, b*, c* instead of the choice from ``accuracy``.
    refine : bool
        Plan method only: while the estimated error exceeds ``accuracy``, recompute with
        (estimate/accuracy)² × 1.2 times the directions (at most twice, ×16 each); off by default because
        unbroadened histograms of dispersive modes converge slowly (see benchmarks/REPORT.md).

    Returns
    -------
    INSMap
        x axis ``MomentumTransfer`` (Å⁻¹), e axis ``DeltaE`` (meV), signal per meV, error zero; no NaN
        (no kinematic mask: the instrument layer adds it).

    Notes
    -----
    S(|Q|, E) = (1/N_dir) Σ_dir Σ_modes S⊥(Q, ω_m) F²(|Q|) [n_B(ω_m) + 1 or n_B] δ(E − ±ω_m), binned:
    the histogram conserves the spectral weight of every mode inside the energy range, then optional
    Gaussian broadening (see :func:`insgan_core.spinwave.broadening.histogram_modes`). Per magnetic
    site; the FM chain integrates to 2S/3 over E > 0 (without form factor).
    """
    q_axis = check_edges(q_edges, name="q_edges", unit="MomentumTransfer", minimum=0.0)
    e_axis = check_edges(e_edges, name="e_edges", unit="DeltaE")
    width = resolve_width(fwhm_meV, width_function)
    if method not in (None, "zone", "plan"):
        raise InsganInputError(f"powder_map: method = {method!r}; expected 'zone' or 'plan' (or None for the default)")
    from .powder_zone import ZonePlan

    use_zone = isinstance(plan, ZonePlan) or (plan is None and n_directions is None and calculator is None
                                               and (method or DEFAULT_METHOD) == "zone")
    if use_zone:
        return _zone_map(model, q_axis, e_axis, temperature_K=temperature_K, fwhm_meV=fwhm_meV,
                         width_function=width_function, form_factor=form_factor, backend=backend, device=device,
                         units=units, oversample=oversample, workers=workers, accuracy=accuracy, plan=plan,
                         grid=zone_grid)
    if plan is not None or (n_directions is None and calculator is None):
        return _planned_map(model, q_axis, e_axis, temperature_K=temperature_K, fwhm_meV=fwhm_meV,
                            width_function=width_function, seed=seed, form_factor=form_factor, backend=backend,
                            device=device, units=units, oversample=oversample, workers=workers, accuracy=accuracy,
                            plan=plan, error_estimate=error_estimate, refine=refine)
    if n_directions is None:
        n_directions = 1597
    calc = calculator or SpinWaveCalculator(model, backend=backend, device=device, workers=workers)
    q_abs = q_axis.centres
    nq, nd = q_abs.size, int(n_directions)
    with single_blas_thread():  # (N, 3) @ (3, 3) products are slower with threaded BLAS, too
        dirs = shell_directions(nq, nd, seed=seed)
        q_cart = (q_abs[:, None, None] * dirs).reshape(-1, 3)
        q_rlu = calc.resolved.lattice.q_rlu(q_cart)
        energies, weights = calc.spectrum(q_rlu, temperature_K=temperature_K, form_factor=form_factor, units=units)
        rows = np.repeat(np.arange(nq), nd)
        signal = histogram_modes(energies, weights / nd, rows, nq, e_axis.edges, width=width, oversample=oversample)
    signal[q_abs <= 0] = 0.0
    provenance = {
        "generator": "insgan_core.spinwave.powder_map",
        "model": calc.model.name,
        "parameters": calc.model.parameters,
        "convention": SIGN_CONVENTION,
        "normalisation": "per magnetic site" + (", mbarn/sr/meV" if units == "mbarn" else ", S_perp per meV"),
        "n_directions": nd,
        "seed": int(seed),
        "form_factor": bool(form_factor),
        "fwhm_meV": None if fwhm_meV is None or callable(fwhm_meV) else float(fwhm_meV),
        "width_function": None if width_function is None else getattr(width_function, "__name__", "callable"),
        "backend": calc.backend,
    }
    metadata = MapMetadata(temperature_K=float(temperature_K), sample=calc.model.name, provenance={"spinwave": provenance})
    return INSMap(signal, np.zeros_like(signal), q_axis, e_axis, metadata, distribution=True)


def _planned_map(model, q_axis, e_axis, *, temperature_K, fwhm_meV, width_function, seed, form_factor, backend,
                 device, units, oversample, workers, accuracy, plan, error_estimate, refine) -> INSMap:
    """powder_map with a :class:`PowderPlan` (the default method)."""
    from .powder_plan import DEFAULT_ACCURACY, PowderPlan

    if backend not in ("numpy", "torch"):
        raise InsganInputError(f"powder_map: backend = {backend!r}; expected 'numpy' or 'torch'")
    target = DEFAULT_ACCURACY if accuracy is None else float(accuracy)
    fixed_plan = plan is not None

    def new_plan(n_points=None):
        return PowderPlan(model, q_edges=q_axis.edges, e_edges=e_axis.edges, accuracy=target, n_points=n_points,
                          seed=seed, form_factor=form_factor, units=units,
                          device=device if backend == "torch" else "cpu")

    if plan is None:
        plan = new_plan()
    else:
        _check_plan_grid(plan, q_axis, e_axis, form_factor=form_factor, units=units, what="plan",
                         builder="PowderPlan")
    signal = plan.signal(model, temperature_K=temperature_K, fwhm_meV=fwhm_meV, width_function=width_function,
                         oversample=oversample, workers=workers)
    provenance = _plan_provenance(model, units=units, form_factor=form_factor, fwhm_meV=fwhm_meV,
                                  width_function=width_function)
    provenance.update({"powder_plan": plan.describe(), "seed": int(seed),
                       "backend": f"torch ({plan.dtype}, {plan.device})"})
    if error_estimate or refine:
        kw = dict(temperature_K=temperature_K, fwhm_meV=fwhm_meV, width_function=width_function)
        estimate = plan.error_estimate(model, signal=signal, **kw)
        for _ in range(2 if refine and not fixed_plan else 0):
            if estimate["estimated_relative_L1"] <= target:
                break
            factor = min(16.0, 1.2 * (estimate["estimated_relative_L1"] / target) ** 2)
            plan = new_plan(np.ceil(plan.n_full * factor).astype(int))
            signal = plan.signal(model, oversample=oversample, workers=workers, **kw)
            estimate = plan.error_estimate(model, signal=signal, **kw)
        provenance["quadrature_error"] = estimate
        provenance["powder_plan"] = plan.describe()
    metadata = MapMetadata(temperature_K=float(temperature_K), sample=model.name, provenance={"spinwave": provenance})
    return INSMap(signal, np.zeros_like(signal), q_axis, e_axis, metadata, distribution=True)


def _zone_map(model, q_axis, e_axis, *, temperature_K, fwhm_meV, width_function, form_factor, backend, device, units,
              oversample, workers, accuracy, plan, grid) -> INSMap:
    """powder_map with a :class:`~insgan_core.spinwave.powder_zone.ZonePlan`."""
    from .powder_plan import DEFAULT_ACCURACY
    from .powder_zone import ZonePlan, predicted_error

    if backend not in ("numpy", "torch"):
        raise InsganInputError(f"powder_map: backend = {backend!r}; expected 'numpy' or 'torch'")
    target = DEFAULT_ACCURACY if accuracy is None else float(accuracy)
    if plan is None:
        plan = ZonePlan(model, q_edges=q_axis.edges, e_edges=e_axis.edges, accuracy=target, grid=grid,
                        form_factor=form_factor, units=units, device=device if backend == "torch" else "cpu")
    else:
        _check_plan_grid(plan, q_axis, e_axis, form_factor=form_factor, units=units, what="zone plan",
                         builder="ZonePlan")
    signal = plan.signal(model, temperature_K=temperature_K, fwhm_meV=fwhm_meV, width_function=width_function,
                         oversample=oversample, workers=workers)
    provenance = _plan_provenance(model, units=units, form_factor=form_factor, fwhm_meV=fwhm_meV,
                                  width_function=width_function)
    provenance.update({
        "powder_zone": plan.describe(),
        "quadrature_error": {"predicted_relative_L1": predicted_error(len(plan.k_points)),
                             "basis": "error model calibrated on Bi2Fe4O9 at 2 meV FWHM (powder_zone)"},
        "backend": f"zone ({plan.dtype}, {plan.device})",
    })
    metadata = MapMetadata(temperature_K=float(temperature_K), sample=model.name, provenance={"spinwave": provenance})
    return INSMap(signal, np.zeros_like(signal), q_axis, e_axis, metadata, distribution=True)


def _check_plan_grid(plan, q_axis, e_axis, *, form_factor, units, what: str, builder: str) -> None:
    """Refuse a re-used plan (PowderPlan or ZonePlan) built for other bin edges, form factor or units."""
    same = (np.array_equal(plan.q_axis.edges, q_axis.edges) and np.array_equal(plan.e_axis.edges, e_axis.edges)
            and plan.form_factor == bool(form_factor) and plan.units == units)
    if not same:
        raise InsganInputError(f"powder_map: the {what} was built for other bin edges, form factor or units; "
                               f"build a {builder} for this grid")


def _plan_provenance(model, *, units, form_factor, fwhm_meV, width_function) -> dict:
    """Provenance entries shared by the plan and zone integrators (each adds its own plan description)."""
    return {
        "generator": "insgan_core.spinwave.powder_map",
        "model": model.name,
        "parameters": model.parameters,
        "convention": SIGN_CONVENTION,
        "normalisation": "per magnetic site" + (", mbarn/sr/meV" if units == "mbarn" else ", S_perp per meV"),
        "n_directions": None,
        "form_factor": bool(form_factor),
        "fwhm_meV": None if fwhm_meV is None or callable(fwhm_meV) else float(fwhm_meV),
        "width_function": None if width_function is None else getattr(width_function, "__name__", "callable"),
    }
