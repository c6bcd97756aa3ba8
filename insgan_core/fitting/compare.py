"""Model comparison: which of several fitted models the data prefer.

For fits to the same bins: Δχ², AIC = χ² + 2P, BIC = χ² + P ln N (lower is better; ΔAIC > 10 is
conventionally decisive), Akaike weights, and for nested pairs (one model a special case of the other,
more parameters) the likelihood-ratio test p-value (Wilks: Δχ² ~ χ²(ΔP)). For non-nested pairs with
equal P the likelihood ratio exp(−Δχ²/2) is reported. When the best fit's χ²/ν is well above 1 the
absolute Δχ² overstates the evidence; ``delta_chi2_scaled`` = Δχ² / (χ²/ν of the best fit) is the more
conservative figure (quasi-likelihood).
"""

from __future__ import annotations

import numpy as np

from ..errors import InsganInputError

__all__ = ["compare_models"]


def compare_models(results, labels=None, *, nested: bool = False) -> dict:
    """Rank fitted models (:class:`FitResult`, same data and masks) by AIC.

    Returns a dict with ``ranking`` (list of rows best first: label, chi2, n_params, chi2_per_dof, aic, bic,
    delta_chi2, delta_chi2_scaled, delta_aic, delta_bic, akaike_weight, likelihood_ratio and, when
    ``nested``, lr_p_value against the best) and ``preferred`` (label).
    """
    from scipy.stats import chi2 as chi2_dist

    results = list(results)
    if len(results) < 2:
        raise InsganInputError("compare_models: give at least two fit results")
    labels = list(labels) if labels is not None else [r.problem.model.name for r in results]
    if len(set(labels)) != len(labels):
        labels = [f"{lab}#{i}" for i, lab in enumerate(labels)]
    n = {r.n_data for r in results}
    if len(n) != 1:
        raise InsganInputError(f"compare_models: the fits use different numbers of bins {sorted(n)}; compare fits "
                               "of the same data with the same masks")
    order = sorted(range(len(results)), key=lambda i: results[i].aic)
    best = results[order[0]]
    red = max(best.reduced_chi2, 1.0)
    aics = np.array([results[i].aic for i in order])
    w = np.exp(-0.5 * (aics - aics[0]))
    w = w / w.sum()
    rows = []
    for k, i in enumerate(order):
        r = results[i]
        dchi = r.chi2 - best.chi2
        row = {"label": labels[i], "chi2": r.chi2, "n_params": r.n_params, "n_data": r.n_data,
               "chi2_per_dof": r.reduced_chi2, "aic": r.aic, "bic": r.bic, "delta_chi2": dchi,
               "delta_chi2_scaled": dchi / red, "delta_aic": r.aic - best.aic, "delta_bic": r.bic - best.bic,
               "akaike_weight": float(w[k]), "likelihood_ratio": float(np.exp(-0.5 * min(dchi, 1400.0)))}
        if nested and k > 0:
            dp = abs(r.n_params - best.n_params)
            row["lr_p_value"] = float(chi2_dist.sf(abs(dchi), dp)) if dp > 0 else None
        rows.append(row)
    return {"ranking": rows, "preferred": rows[0]["label"]}
