"""The result of a fit: parameter table (JSON), fitted maps, residual figure, information criteria."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FitResult"]


@dataclass
class FitResult:
    """Best parameters, uncertainties and goodness of fit.

    Attributes
    ----------
    x, errors : ndarray (P,)     best values and 1σ errors (covariance scaled by χ²/ν), in ``names`` order
    covariance : ndarray (P, P)
    chi2 : float                 Σ ((model − data)/error)² over the fitted bins
    n_data : int                 fitted bins N
    singular : bool              JᵀJ rank-deficient (some parameter or combination undetermined)
    profile : dict or None       name -> [Δχ²/(χ²/ν) at −σ, at +σ] (≈ 1 when σ is right)
    """

    problem: object
    x: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    chi2: float
    n_data: int
    singular: bool = False
    global_table: list = field(default_factory=list)
    profile: dict | None = None
    timings: dict = field(default_factory=dict)
    n_evaluations: int = 0
    n_diagonalisations: int = 0
    converged: bool = True
    message: str = ""
    schedule: dict = field(default_factory=dict)  # coarse-to-fine record (accuracies, χ², counts); {} without

    # --- summary numbers -----------------------------------------------------------------------
    @property
    def names(self) -> list:
        return list(self.problem.names)

    @property
    def n_params(self) -> int:
        return len(self.x)

    @property
    def reduced_chi2(self) -> float:
        return self.chi2 / max(self.n_data - self.n_params, 1)

    @property
    def aic(self) -> float:
        """Akaike information criterion χ² + 2P (Gaussian likelihood, constant dropped)."""
        return self.chi2 + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion χ² + P ln N."""
        return self.chi2 + self.n_params * np.log(self.n_data)

    @property
    def correlation(self) -> np.ndarray:
        d = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = self.covariance / np.outer(d, d)
        return np.where(np.outer(d, d) > 0, c, np.nan)

    @property
    def values(self) -> dict:
        return dict(zip(self.names, map(float, self.x)))

    @property
    def uncertainties(self) -> dict:
        return dict(zip(self.names, map(float, self.errors)))

    def hamiltonian(self) -> dict:
        """All model parameters at the best fit (fixed and fitted)."""
        out = dict(self.problem.fixed)
        out.update({n: float(v) for n, v in zip(self.problem.vary, self.x)})
        return out

    # --- maps -----------------------------------------------------------------------------------
    def fitted_maps(self):
        """Model maps (INSMap per dataset) at the best fit, NaN where the dataset is not fitted."""
        out = []
        for m, d in zip(self.problem.model_maps(self.x), self.problem.datasets):
            sig = np.where(d.mask, m, np.nan)
            fm = d.measured.with_data(sig, np.where(d.mask, 0.0, np.nan))
            fm.metadata.provenance = dict(fm.metadata.provenance)
            fm.metadata.provenance["fit"] = {"model": self.problem.model.name, "parameters": self.hamiltonian(),
                                            "dataset": d.name, "chi2_per_dof": self.reduced_chi2}
            out.append(fm)
        return out

    def to_dict(self) -> dict:
        p = self.problem
        table = []
        for j, n in enumerate(self.names):
            row = {"name": n, "value": float(self.x[j]), "error": float(self.errors[j]),
                   "kind": "hamiltonian" if j < len(p.vary) else "nuisance",
                   "lower": float(p.lower[j]) if np.isfinite(p.lower[j]) else None,
                   "upper": float(p.upper[j]) if np.isfinite(p.upper[j]) else None,
                   "start": float(p.x0[j])}
            if self.profile and n in self.profile:
                row["profile_delta_chi2_scaled"] = self.profile[n]
            table.append(row)
        corr = self.correlation
        return {
            "model": p.model.name,
            "parameters": table,
            "fixed": {k: float(v) for k, v in p.fixed.items()},
            "correlation": {"names": self.names, "matrix": [[None if not np.isfinite(v) else float(v) for v in r] for r in corr]},
            "statistic": p.statistic, "chi2": self.chi2, "n_data": self.n_data, "n_params": self.n_params,
            "chi2_per_dof": self.reduced_chi2, "aic": self.aic, "bic": self.bic,
            "singular_covariance": self.singular, "converged": self.converged, "message": self.message,
            "datasets": [{"name": d.name, "temperature_K": d.temperature_K, "settings": d.settings.to_dict(),
                          "fitted_bins": d.n_fitted, "masks": d.masks_applied} for d in p.datasets],
            "global_stage": self.global_table,
            "timings_s": self.timings, "schedule": self.schedule, "model_evaluations": self.n_evaluations,
            "diagonalisations": self.n_diagonalisations,
            "uncertainty": "covariance (J^T J)^-1 scaled by chi2/dof; profile: chi2 increase (in units of chi2/dof) "
                           "at best -/+ sigma with the other parameters re-minimised (about 1 when sigma is right)",
        }

    def summary(self) -> str:
        lines = [f"model {self.problem.model.name}: chi2/dof = {self.reduced_chi2:.3f} (N = {self.n_data}, "
                 f"P = {self.n_params}), AIC {self.aic:.1f}, BIC {self.bic:.1f}"]
        for n, v, e in zip(self.names, self.x, self.errors):
            extra = ""
            if self.profile and n in self.profile:
                a, b = self.profile[n]
                extra = f"   profile dchi2 at -/+sigma: {a:.2f}, {b:.2f}"
            lines.append(f"  {n:>14s} = {v:12.5g} ± {e:.3g}{extra}")
        return "\n".join(lines)

    # --- files ----------------------------------------------------------------------------------
    def write(self, out_dir, *, figure: bool = True) -> list:
        """Write parameters.json, fitted_<i>.nxs and residuals_<i>.png into ``out_dir``; returns the paths."""
        from ..data.io import save
        from ..data.io._atomic import atomic_path

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        p = out / "parameters.json"
        with atomic_path(p) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=2, default=_json_default))
        paths.append(p)
        for i, fm in enumerate(self.fitted_maps()):
            f = out / f"fitted_{i}.nxs"
            save(fm, f)
            paths.append(f)
            if figure:
                g = out / f"residuals_{i}.png"
                self.residual_figure(i, g)
                paths.append(g)
        return paths

    def residual_figure(self, i: int, path) -> None:
        """Data, model and (data − model)/error of dataset ``i`` as a three-panel PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..data.io._atomic import atomic_path

        d = self.problem.datasets[i]
        m = self.fitted_maps()[i].signal
        data = np.where(d.mask, d.measured.signal, np.nan)
        resid = (data - m) / d.measured.error
        q, e = d.measured.x_axis.edges, d.measured.e_axis.edges
        fig, ax = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
        vmax = np.nanpercentile(data, 99) if np.isfinite(data).any() else 1.0
        for a, z, title, kw in ((ax[0], data, f"data: {d.name}", {"vmin": 0, "vmax": vmax}),
                                (ax[1], m, "fitted model", {"vmin": 0, "vmax": vmax}),
                                (ax[2], resid, "(data − model)/error", {"vmin": -5, "vmax": 5, "cmap": "RdBu_r"})):
            im = a.pcolormesh(q, e, z.T, shading="flat", **kw)
            a.set_xlabel("|Q| (Å⁻¹)")
            a.set_ylabel("E (meV)")
            a.set_title(title)
            fig.colorbar(im, ax=a)
        fig.suptitle(f"{self.problem.model.name}: χ²/ν = {self.reduced_chi2:.3f}")
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
        plt.close(fig)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
