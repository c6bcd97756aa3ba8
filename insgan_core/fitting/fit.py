"""Least-squares fit of spin-wave Hamiltonian and nuisance parameters to one or more measured maps.

Objective (``statistic``):

* ``"chi2"``: χ² = Σ_datasets Σ_fitted bins ((model − data) / error)² (error-weighted least squares);
* ``"poisson"``: the Poisson deviance 2 Σ [μ − n + n ln(n/μ)] with effective counts n = c·data and
  μ = c·model per bin, c = data/error² the bin's counts per unit intensity (for zero-count bins, whose
  error a reduction reports as √1/c, c = 1/error). Unbiased at low counts, where χ² with √n errors pulls
  the model down; it needs data ≥ 0 (counting data, no subtraction).

Stages
1. global: Latin-hypercube starts inside the bounds of the varied Hamiltonian parameters (plus the given
   start); at each, the linear nuisances (scale, backgrounds, elastic amplitude) are solved exactly, so a
   start costs one diagonalisation per dataset;
2. local: :func:`scipy.optimize.least_squares` (trust-region reflective, bounds) from the best
   ``n_local`` starts over all varied parameters; forward-difference Jacobian with a relative step
   ``diff_step`` (the quadrature map is smooth and deterministic; nuisance-only steps reuse the cached modes);

   Coarse-to-fine (``coarse_accuracy`` of :class:`FitProblem`): stages 1 and 2 run on forward models with a
   coarser powder quadrature (cheap diagonalisations), then a final local stage on the user's accuracy
   starts from the better (on the fine model) of the best coarse optimum and the best start and uses a *hybrid*
   Jacobian: the Hamiltonian columns are finite differences of the coarse model, then Broyden-updated
   from the fine steps, the nuisance columns those of the fine model (they reuse its cached modes). An
   approximate Jacobian only slows the Gauss–Newton steps down (the residuals, and so the optimum, are
   the fine model's); each fine iteration costs one fine diagonalisation instead of P + 1. At the end the
   fine finite-difference Jacobian (also the covariance's) checks the point and restarts the refinement
   once when it promises more (:func:`_refine`);
3. uncertainties: covariance C = (JᵀJ)⁻¹ · χ²/ν (J the fine model's finite-difference Jacobian of the
   weighted residuals at the best fit, ν = N − P), correlations, and optionally a profile check: for each
   Hamiltonian parameter, χ² is re-minimised over the others with it fixed at best ± σ; Δχ²/(χ²/ν) ≈ 1
   confirms σ.

Several datasets share the Hamiltonian parameters; each has its own nuisances, named ``scale[i]`` etc.
when there is more than one dataset.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import InsganInputError, SpinWaveInstabilityError
from .forward import LINEAR_NUISANCES, ForwardModel

#: failures of the forward model at a parameter set (e.g. an unstable ordered structure): that point is
#: given a huge cost so the optimiser steps back, instead of stopping the fit
_MODEL_FAILURES = (InsganInputError, SpinWaveInstabilityError, np.linalg.LinAlgError, ArithmeticError)

__all__ = ["FitProblem", "fit"]

log = logging.getLogger("insgan")


class FitProblem:
    """Parameters, bounds and the residual function of a fit.

    Parameters
    ----------
    model : SpinWaveModel
        The model (with any fixed overrides already applied); its values are the start.
    datasets : list of FitDataset
    vary : sequence of str
        Hamiltonian parameters to fit (names of ``model.parameters``).
    bounds : dict name -> (low, high), optional
        Bounds of varied parameters (Hamiltonian or nuisance names). A varied Hamiltonian parameter without
        bounds keeps the sign of its start: [0, 3·start] (start > 0), [3·start, 0] (start < 0), [−1, 1]
        (start 0) — the ordered structure, and so the model, depends on the signs of the couplings.
    fit_resolution : bool
        Also fit ``res_scale`` (energy-resolution width factor) per dataset.
    fit_elastic : bool or None
        Fit the elastic line (amplitude and width); None: only where unmasked bins lie within
        one resolution FWHM of E = 0.
    start : dict, optional
        Starting values overriding the model's / the default nuisances.
    statistic : {"chi2", "poisson", "auto"}
        Objective (module docstring); ``"auto"``: Poisson when every fitted bin has data ≥ 0.
    accuracy, q_resolution, n_points, plan_factory, translator
        Passed to :class:`ForwardModel`.
    coarse_accuracy : float, optional
        Powder accuracy of the coarse forward models of the coarse-to-fine schedule (module docstring);
        None: no schedule. Must be coarser (larger) than ``accuracy``.
    """

    def __init__(self, model, datasets, vary, *, bounds=None, fit_resolution: bool = False, fit_elastic=None,
                 start=None, accuracy: float = 0.05, q_resolution: bool = True, n_points=None, forwards=None,
                 statistic: str = "chi2", coarse_accuracy: float | None = None, plan_factory=None,
                 translator=None):
        datasets = list(datasets)
        if statistic not in ("chi2", "poisson", "auto"):
            raise InsganInputError(f"fit: statistic must be 'chi2', 'poisson' or 'auto', got {statistic!r}")
        if not datasets:
            raise InsganInputError("fit: give at least one measured dataset")
        self.model = model
        self.datasets = datasets
        vary = [v.strip() for v in vary if v.strip()]  # empty: fit the nuisances only (a fixed hypothesis)
        params = model.parameters
        unknown = [v for v in vary if v not in params]
        if unknown:
            raise InsganInputError(f"fit: unknown parameter(s) {', '.join(unknown)} for model '{model.name}'; "
                                   f"its parameters are: {', '.join(sorted(params))}")
        if len(set(vary)) != len(vary):
            raise InsganInputError(f"fit: --vary repeats a parameter: {vary}")
        self.vary = vary
        fkw = dict(q_resolution=q_resolution, plan_factory=plan_factory, translator=translator)
        self.forwards = forwards or [ForwardModel(model, d, accuracy=accuracy, n_points=n_points, **fkw)
                                     for d in datasets]
        self.coarse_forwards = None
        if coarse_accuracy is not None:
            if not (np.isfinite(coarse_accuracy) and coarse_accuracy > accuracy):
                raise InsganInputError(f"fit: coarse accuracy {coarse_accuracy} must be larger (coarser) than the "
                                       f"accuracy {accuracy}")
            self.coarse_forwards = [ForwardModel(model, d, accuracy=coarse_accuracy, **fkw) for d in datasets]
        if translator is not None:
            self.forwards[0].check_translator_linear()
        multi = len(datasets) > 1
        self.nuisance_names = []  # (full name, dataset index, nuisance key)
        self.nuisance_start = []
        for i, (fw, d) in enumerate(zip(self.forwards, datasets)):
            nu = fw.default_nuisance()
            keys = list(LINEAR_NUISANCES[:3])
            el = fit_elastic
            if el is None:
                el = bool(np.any(d.mask & (np.abs(fw.e) < fw.resolution_fwhm(0.0))[None, :]))
            if el:
                keys += ["elastic_amp", "elastic_fwhm"]
            if fit_resolution:
                keys.append("res_scale")
            self.nuisance_start.append(nu)
            for k in keys:
                self.nuisance_names.append((f"{k}[{i}]" if multi else k, i, k))
        self.names = list(vary) + [n for n, _, _ in self.nuisance_names]
        start = dict(start or {})
        unknown = sorted(set(start) - set(self.names) - set(params))
        if unknown:
            raise InsganInputError(f"fit: unknown start value(s) {unknown}; parameters: {', '.join(self.names)}")
        x0 = []
        for n in vary:
            x0.append(float(start.get(n, params[n])))
        for full, i, k in self.nuisance_names:
            if full in start:
                self.nuisance_start[i][k] = float(start[full])
            x0.append(self.nuisance_start[i][k])
        self.x0 = np.array(x0, float)
        self.fixed = {k: v for k, v in params.items() if k not in vary}
        self.lower, self.upper = self._bounds(bounds or {})
        self.global_lower, self.global_upper = self._global_bounds()
        self.n_data = int(sum(d.n_fitted for d in datasets))
        if self.n_data <= len(self.names):
            raise InsganInputError(f"fit: {self.n_data} fitted bins for {len(self.names)} parameters; unmask more data")
        self.n_evaluations = 0
        nonneg = all(np.all(d.measured.signal[d.mask] >= 0) for d in datasets)
        if statistic == "auto":
            statistic = "poisson" if nonneg else "chi2"
        if statistic == "poisson" and not nonneg:
            raise InsganInputError("fit: --statistic poisson needs data >= 0 in every fitted bin (counting data); "
                                   "use chi2 for background-subtracted maps")
        self.statistic = statistic
        self._counts_per_unit = []
        for d in datasets:
            s, e = d.measured.signal[d.mask], d.measured.error[d.mask]
            self._counts_per_unit.append(np.where(s > 0, s / e ** 2, 1.0 / e))

    # --- parameters -----------------------------------------------------------------------------
    def _bounds(self, bounds):
        lo = np.full(len(self.names), -np.inf)
        hi = np.full(len(self.names), np.inf)
        for j, x in enumerate(self.x0[: len(self.vary)]):
            lo[j], hi[j] = (0.0, 3.0 * x) if x > 0 else ((3.0 * x, 0.0) if x < 0 else (-1.0, 1.0))
        for j, (full, i, k) in enumerate(self.nuisance_names, start=len(self.vary)):
            if k in ("scale", "elastic_amp"):
                lo[j] = 0.0
            elif k == "elastic_fwhm":
                r = self.forwards[i].resolution_fwhm(0.0)
                lo[j], hi[j] = 0.2 * r, 10.0 * r
            elif k == "res_scale":
                lo[j], hi[j] = 0.3, 3.0
        for name, b in bounds.items():
            if name not in self.names:
                raise InsganInputError(f"fit: --bounds names '{name}', which is not varied; varied parameters: "
                                       f"{', '.join(self.names)}")
            a, c = float(b[0]), float(b[1])
            if not a < c:
                raise InsganInputError(f"fit: --bounds {name}={a:g}:{c:g}: the low bound must be below the high one")
            j = self.names.index(name)
            lo[j], hi[j] = a, c
        bad = [f"{n}={x:g} outside [{a:g}, {b:g}]" for n, x, a, b in zip(self.names, self.x0, lo, hi) if not a <= x <= b]
        if bad:
            raise InsganInputError(f"fit: the start lies outside the bounds: {'; '.join(bad)}; change --bounds or --set")
        return lo, hi

    def _global_bounds(self):
        p = len(self.vary)
        lo, hi = self.lower[:p].copy(), self.upper[:p].copy()
        x = self.x0[:p]
        half = np.maximum(0.5 * np.abs(x), 1.0)
        lo = np.where(np.isfinite(lo), lo, x - half)
        hi = np.where(np.isfinite(hi), hi, x + half)
        return lo, hi

    def split(self, x):
        """θ -> (Hamiltonian values dict, list of per-dataset nuisance dicts)."""
        values = dict(zip(self.vary, (float(v) for v in x[: len(self.vary)])))
        nus = [dict(n) for n in self.nuisance_start]
        for (full, i, k), v in zip(self.nuisance_names, x[len(self.vary):]):
            nus[i][k] = float(v)
        return values, nus

    def join(self, values, nus):
        return np.array([values[n] for n in self.vary] + [nus[i][k] for _, i, k in self.nuisance_names], float)

    # --- objective --------------------------------------------------------------------------------
    def model_maps(self, x, forwards=None):
        values, nus = self.split(x)
        return [fw(values, nu) for fw, nu in zip(forwards or self.forwards, nus)]

    def residuals(self, x, forwards=None):
        """Weighted residuals (model − data)/error over all fitted bins (length N); ``forwards``: other
        forward models of the same datasets (the coarse ones), default the fine ones."""
        self.n_evaluations += 1
        out = []
        try:
            maps = self.model_maps(x, forwards)
        except _MODEL_FAILURES as exc:
            log.debug("model evaluation failed at %s: %s", dict(zip(self.names, x)), exc)
            return np.full(self.n_data, 1e6)
        for m, d, c in zip(maps, self.datasets, self._counts_per_unit):
            k = d.mask
            if self.statistic == "chi2":
                out.append((m[k] - d.measured.signal[k]) / d.measured.error[k])
            else:
                n = c * d.measured.signal[k]
                mu = np.maximum(c * m[k], 1e-12)
                with np.errstate(divide="ignore", invalid="ignore"):
                    t = np.where(n > 0, n * np.log(n / mu), 0.0)
                dev = np.clip(2.0 * (mu - n + t), 0.0, None)
                out.append(np.sign(mu - n) * np.sqrt(dev))
        return np.concatenate(out)

    def chi2(self, x, forwards=None) -> float:
        r = self.residuals(x, forwards)
        return float(r @ r)

    def jacobian(self, x, *, step: float = 1e-3, hamiltonian_forwards=None, columns=None) -> np.ndarray:
        """Forward-difference Jacobian (N, K) of the weighted residuals at ``x`` (steps inside the bounds).

        ``hamiltonian_forwards``: take the Hamiltonian columns from these (coarse) forward models; the
        nuisance columns always come from the fine ones (which reuse their cached modes). ``columns``: only
        these columns (the others are left 0).
        """
        x = np.asarray(x, float)
        P = len(self.vary)
        f_fine = self.residuals(x)
        cols = list(range(x.size)) if columns is None else list(columns)
        ham = hamiltonian_forwards is not None and any(j < P for j in cols)
        f_ham = self.residuals(x, hamiltonian_forwards) if ham else f_fine
        J = np.zeros((f_fine.size, x.size))
        for j in cols:
            h = step * max(abs(x[j]), 1.0)  # scipy's relative step convention
            if x[j] + h > self.upper[j]:
                h = -h
            z = x.copy()
            z[j] += h
            if j < P and hamiltonian_forwards is not None:
                J[:, j] = (self.residuals(z, hamiltonian_forwards) - f_ham) / h
            else:
                J[:, j] = (self.residuals(z) - f_fine) / h
        return J

    def profile_linear(self, values, nus, forwards=None):
        """Solve each dataset's varied linear nuisances exactly at fixed Hamiltonian ``values``; (nus, χ²)."""
        total, new = 0.0, []
        for i, (fw, nu) in enumerate(zip(forwards or self.forwards, nus)):
            names = tuple(k for f, j, k in self.nuisance_names if j == i and k in LINEAR_NUISANCES)
            nu2, c = fw.solve_linear(values, nu, names)
            for k in ("scale", "elastic_amp"):  # keep inside the bounds
                nu2[k] = max(nu2.get(k, 0.0), 0.0)
            new.append(nu2)
            total += c
        return new, total


def _latin_hypercube(n, lo, hi, rng):
    p = lo.size
    u = (np.argsort(rng.random((n, p)), axis=0) + rng.random((n, p))) / n
    return lo + u * (hi - lo)


def fit(problem: FitProblem, *, n_starts: int = 8, n_local: int = 2, seed: int = 0, profile: bool = False,
        diff_step: float = 1e-3, max_nfev: int | None = None, start_points=None, tol: float = 1e-6,
        coarse_tol: float | None = None, sigma_tol: float = 0.3, fine_checks: int = 1):
    """Run the global and local stages and the uncertainty analysis; returns a :class:`FitResult`.

    Parameters
    ----------
    n_starts : int
        Latin-hypercube starts of the global stage (0: local fit from the start only).
    n_local : int
        Best global starts refined by the local stage.
    profile : bool
        Run the profile check of each Hamiltonian parameter's σ.
    start_points : sequence of dict, optional
        Extra global starts (e.g. an amortised estimate), Hamiltonian values by name.
    diff_step, max_nfev, tol
        Relative finite-difference step, evaluation limit and ftol/xtol/gtol of the local stage.
    coarse_tol, sigma_tol
        Coarse-to-fine schedule only: ftol/xtol/gtol of the coarse local stage (default ``max(tol, 1e-3)``),
        and the final stage's stop: an accepted step that lowers χ² by less than ``sigma_tol``² · χ²/ν;
        ``fine_checks``: refinements restarted from the fine Jacobian when it promises more than that.
    """
    from scipy.optimize import least_squares

    from .result import FitResult

    t0 = time.perf_counter()
    P = len(problem.vary)
    coarse = problem.coarse_forwards
    rng = np.random.default_rng(seed)
    starts = [problem.x0[:P]]
    for sp in start_points or ():
        starts.append(np.clip([float(sp.get(n, v)) for n, v in zip(problem.vary, problem.x0[:P])],
                              problem.global_lower, problem.global_upper))
    if n_starts > 0 and P > 0:
        starts += list(_latin_hypercube(int(n_starts), problem.global_lower, problem.global_upper, rng))
    _, nus0 = problem.split(problem.x0)
    table = []
    for s in starts:
        values = dict(zip(problem.vary, map(float, s)))
        try:
            nus, c = problem.profile_linear(values, nus0, coarse)
        except _MODEL_FAILURES as exc:
            log.debug("global start %s failed: %s", values, exc)
            table.append({"start": values, "chi2": float("inf")})
            continue
        x = np.clip(problem.join(values, nus), problem.lower, problem.upper)
        table.append({"start": values, "chi2": problem.chi2(x, coarse), "x": x})
    order = sorted(range(len(table)), key=lambda i: table[i]["chi2"])
    if not np.isfinite(table[order[0]]["chi2"]):
        raise InsganInputError("fit: the model could not be evaluated at any start (unstable spin-wave spectrum); "
                               "change the start (--set) or the bounds")
    t_global = time.perf_counter() - t0
    best = None
    fun = (lambda z: problem.residuals(z, coarse)) if coarse else problem.residuals
    for i in order[: max(1, int(n_local))]:
        if not np.isfinite(table[i]["chi2"]):
            continue
        x = np.clip(table[i]["x"], problem.lower, problem.upper)
        t = tol if not coarse else (coarse_tol if coarse_tol is not None else max(tol, 1e-3))
        res = least_squares(fun, x, bounds=(problem.lower, problem.upper), method="trf",
                            x_scale="jac", diff_step=diff_step, max_nfev=max_nfev, ftol=t, xtol=t, gtol=t)
        chi2 = float(res.fun @ res.fun)
        table[i]["local_chi2"] = chi2
        table[i]["local_x"] = res.x
        if best is None or chi2 < best[1]:
            best = (res, chi2)
    res, chi2 = best
    schedule = {}
    timings = {"global_s": t_global, "local_s": time.perf_counter() - t0 - t_global}
    if coarse:
        # final refinement on the fine model, Hamiltonian Jacobian columns from the coarse one
        t1 = time.perf_counter()
        n_coarse = problem.n_evaluations
        # the coarse optimum can sit away from the fine one (a coarse quadrature is rough for low-dimensional
        # magnets): refine from whichever of the best coarse optimum and the best start is better on the fine
        # model (one fine diagonalisation each)
        local = sorted((t for t in table if "local_x" in t), key=lambda t: t["local_chi2"])
        cands = [local[0]["local_x"]] + [table[i]["x"] for i in order[:1] if np.isfinite(table[i]["chi2"])]
        fine_chi2 = []
        for x in cands:
            values, nus = problem.split(x)
            try:
                nus, _ = problem.profile_linear(values, nus)
            except _MODEL_FAILURES:
                fine_chi2.append(np.inf)
                continue
            x[:] = np.clip(problem.join(values, nus), problem.lower, problem.upper)
            fine_chi2.append(problem.chi2(x))
        x_start = cands[int(np.argmin(fine_chi2))]
        x, f, info = _refine(problem, x_start, step=diff_step, tol=tol, max_iter=max_nfev or 30, coarse=coarse,
                             sigma_tol=sigma_tol)
        # check on the fine Jacobian (needed for the covariance anyway): refine once more (starting from it) when
        # a Gauss-Newton step with it promises more than the stopping decrease; at most ``fine_checks`` times
        # (each costs P fine diagonalisations; on a quadrature-rough landscape the promise is often not kept)
        J = problem.jacobian(x, step=diff_step)
        checks = 0
        while checks < fine_checks:
            cost = float(f @ f)
            dx = np.linalg.lstsq(J, -f, rcond=None)[0]
            dx = np.clip(x + dx, problem.lower, problem.upper) - x
            r = f + J @ dx
            promise = cost - float(r @ r)
            if promise <= max(tol * cost, sigma_tol ** 2 * cost / max(problem.n_data - x.size, 1)):
                break
            checks += 1
            x, f, more = _refine(problem, x, step=diff_step, tol=tol, max_iter=max_nfev or 30, coarse=coarse,
                                 sigma_tol=sigma_tol, jacobian=J)
            info["iterations"] += more["iterations"]
            info["message"], info["converged"] = more["message"], more["converged"]
            J = problem.jacobian(x, step=diff_step)
        info["fine_jacobian_checks"] = checks + 1
        res = _Result(x=x, fun=f, success=info["converged"], message=info["message"], njev=info["iterations"], jac=J)
        chi2 = float(res.fun @ res.fun)
        schedule = {"coarse_accuracy": coarse[0].accuracy, "accuracy": problem.forwards[0].accuracy,
                    "coarse_chi2": best[1], "coarse_evaluations": n_coarse, "fine_iterations": int(res.njev),
                    "fine_jacobian_restarts": info["restarts"], "fine_jacobians": info["fine_jacobian_checks"],
                    "fine_start_chi2": [float(c) for c in fine_chi2]}
        timings["fine_s"] = time.perf_counter() - t1
    J = res.jac
    N, K = problem.n_data, len(problem.names)
    nu = max(N - K, 1)
    red = chi2 / nu
    JtJ = J.T @ J
    cov = np.linalg.pinv(JtJ) * red
    singular = bool(np.linalg.matrix_rank(JtJ) < K)
    err = np.sqrt(np.clip(np.diag(cov), 0, None))
    prof = None
    if profile:
        prof = _profile(problem, res.x, err, chi2, red, diff_step)
    timings["total_s"] = time.perf_counter() - t0
    diag = sum(f.n_diagonalisations for f in problem.forwards)
    if coarse:
        schedule["coarse_diagonalisations"] = sum(f.n_diagonalisations for f in coarse)
        schedule["fine_diagonalisations"] = diag
    result = FitResult(problem=problem, x=res.x, errors=err, covariance=cov, chi2=chi2, n_data=N,
                       singular=singular,
                       global_table=[{k: v for k, v in t.items() if k not in ("x", "local_x")} for t in table],
                       profile=prof, timings=timings,
                       n_evaluations=problem.n_evaluations,
                       n_diagonalisations=diag + schedule.get("coarse_diagonalisations", 0),
                       converged=bool(res.success), message=str(res.message), schedule=schedule)
    return result


class _Result:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _refine(problem, x, *, step, tol, max_iter, coarse, sigma_tol: float = 0.3, jacobian=None):
    """Levenberg–Marquardt on the fine residuals with a cheap Jacobian (coarse-to-fine schedule, last stage).

    The Hamiltonian columns start as finite differences of the ``coarse`` forward models and are then
    improved by Broyden rank-1 updates from each fine step (in variables scaled by the start Jacobian's
    column norms); the nuisance columns are the fine model's finite differences at every accepted point
    (cached modes: no diagonalisation). Each iteration costs one fine diagonalisation. After three rejected
    steps in a row the Hamiltonian columns are replaced, once, by fine finite differences (P
    diagonalisations). Steps are clipped to the bounds. Stops when an accepted step lowers χ² by less than
    ``tol`` × χ² or by less than ``sigma_tol``² × χ²/ν (the step moved the parameters by less than about
    ``sigma_tol`` standard errors). Returns (x, residuals, info).
    """
    P = len(problem.vary)
    lo, hi = problem.lower, problem.upper
    x = np.clip(np.asarray(x, float), lo, hi)
    J = problem.jacobian(x, step=step, hamiltonian_forwards=coarse) if jacobian is None else np.array(jacobian)
    f = problem.residuals(x)
    cost = float(f @ f)
    scale = np.linalg.norm(J, axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # column norms: parameters in units of unit change of χ
    lam, rejected, restarts, message, converged = 1e-3, 0, 0, "maximum number of iterations", False
    dof = max(problem.n_data - x.size, 1)
    it = 0
    for it in range(1, int(max_iter) + 1):
        Js = J / scale
        A = Js.T @ Js
        g = Js.T @ f
        try:
            dz = -np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), g)
        except np.linalg.LinAlgError:
            dz = -np.linalg.lstsq(A + lam * np.eye(A.shape[0]), g, rcond=None)[0]
        x_new = np.clip(x + dz / scale, lo, hi)
        dx = x_new - x
        if not np.any(dx):
            converged, message = True, "step inside the bounds is zero"
            break
        f_new = problem.residuals(x_new)
        cost_new = float(f_new @ f_new)
        log.debug("refine %d: chi2 %.6g -> %.6g (lambda %.3g) at %s", it, cost, cost_new, lam, x_new[:P])
        dzs = dx * scale
        if np.any(dzs[:P]):  # Broyden in scaled variables z = x·scale, Hamiltonian block only
            r = f_new - f - J @ dx
            J[:, :P] += np.outer(r, dzs[:P] * scale[:P]) / float(dzs[:P] @ dzs[:P])
        if cost_new < cost:
            gain = cost - cost_new
            x, f, cost = x_new, f_new, cost_new
            J[:, P:] = problem.jacobian(x, step=step, columns=range(P, x.size))[:, P:]
            lam = max(lam / 3.0, 1e-9)
            rejected = 0
            if gain <= max(tol * cost, sigma_tol ** 2 * cost / dof) or np.all(np.abs(dx) <= tol * (np.abs(x) + tol)):
                converged, message = True, f"decrease of chi2 below tol or below {sigma_tol:g}^2 chi2/dof"
                break
        else:
            lam *= 4.0
            rejected += 1
            if rejected >= 3 and restarts < 1:
                J = problem.jacobian(x, step=step)
                restarts += 1
                rejected = 0
            elif lam > 1e8:
                converged, message = True, "no further decrease of chi2 (damping limit)"
                break
    return x, f, {"iterations": it, "restarts": restarts, "converged": converged, "message": message}


def _profile(problem, x, err, chi2, red, diff_step):
    """Δχ²/(χ²/ν) when each Hamiltonian parameter is fixed at best ± σ and the others re-minimised."""
    from scipy.optimize import least_squares

    out = {}
    for j, name in enumerate(problem.vary):
        if not err[j] > 0:
            continue
        row = []
        for sign in (-1.0, 1.0):
            xj = float(np.clip(x[j] + sign * err[j], problem.lower[j], problem.upper[j]))
            keep = [k for k in range(len(x)) if k != j]

            def fun(y, xj=xj, keep=keep):
                z = x.copy()
                z[keep] = y
                z[j] = xj
                return problem.residuals(z)

            r = least_squares(fun, x[keep], bounds=(problem.lower[keep], problem.upper[keep]), method="trf",
                              x_scale="jac", diff_step=diff_step, max_nfev=30)
            row.append(float((r.fun @ r.fun - chi2) / red))
        out[name] = row
    return out
