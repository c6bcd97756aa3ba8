"""The zone-folded powder integrator (:class:`~insgan_core.spinwave.powder_zone.ZonePlan`) as a fit plan.

:class:`ForwardModel` takes any plan with ``modes(model, workers=)`` → (E (N, M), S (N, M)), ``rows`` (N,)
(the |Q| bin of each row) and ``weights`` (N,). A ZonePlan gives, per diagonalisation block, the energies
of each zone point k and S⊥ × bin weight for every |Q| bin the point reaches; this adapter flattens the
(k, bin) pairs that carry weight into rows (weight 1: the bin weight is already in S) and appends the
rows of the ZonePlan's direction plan for the bins few zone points reach. The values are |Q|-bin averages
(what a measured map holds), not spheres at the bin centres as with :class:`PowderPlan`.

Use: ``ForwardModel(..., plan_factory=zone_plan_factory)`` or ``FitProblem(..., plan_factory=...)``; the
plan's ``accuracy`` then means the ZonePlan's (≈ relative L1 at 2 meV FWHM).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ZoneFitPlan", "zone_plan_factory", "zone_fine_plan_factory"]


class ZoneFitPlan:
    """Rows view of a :class:`ZonePlan` (see the module docstring); same constructor keywords as PowderPlan's
    used by the fit (``q_edges``, ``e_edges`` in Å⁻¹ and meV, ``accuracy``, ``n_points``)."""

    def __init__(self, model, *, q_edges, e_edges, accuracy: float = 0.03, n_points=None):
        from ..spinwave.powder_zone import ZonePlan

        self.zone = ZonePlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy,
                             n_points=None if n_points is None or np.ndim(n_points) else int(n_points))
        valid = (self.zone._gidx >= 0) & self.zone.zone_bins[None, :]
        self._k, self._q = np.nonzero(valid)
        n_blocks = len(self.zone.blocks)
        rows = [np.tile(self._q, n_blocks)]
        weights = [np.ones(rows[0].size)]
        low = self.zone.low_plan
        if low is not None:
            keep = ~self.zone.zone_bins[low.rows]
            self._low_keep = np.nonzero(keep)[0]
            rows.append(low.rows[self._low_keep])
            weights.append(low.weights[self._low_keep])
        self.rows = np.concatenate(rows)
        self.weights = np.concatenate(weights)

    def modes(self, model=None, *, workers: int | None = None):
        """(E (N, M) meV signed, S (N, M)) per row, no Bose factor (as :meth:`PowderPlan.modes`)."""
        E, S = [], []
        for lam, s in self.zone.modes(model, workers=workers):
            E.append(lam[self._k])
            S.append(s[self._k, self._q, :])
        if self.zone.low_plan is not None:
            el, sl = self.zone.low_plan.modes(model, workers=workers)
            E.append(el[self._low_keep])
            S.append(sl[self._low_keep])
        m = max(e.shape[1] for e in E)
        pad = lambda a: a if a.shape[1] == m else np.pad(a, ((0, 0), (0, m - a.shape[1])))  # noqa: E731
        return np.concatenate([pad(e) for e in E]), np.concatenate([pad(s) for s in S])


def zone_plan_factory(model, *, q_edges, e_edges, accuracy, n_points=None):
    """``plan_factory`` for :class:`ForwardModel` / :class:`FitProblem` building a :class:`ZoneFitPlan`."""
    return ZoneFitPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy, n_points=n_points)


def zone_fine_plan_factory(*, zone_up_to: float = 0.1):
    """``plan_factory`` using the zone plan for accuracies ≤ ``zone_up_to`` (the fine stage of a
    coarse-to-fine fit) and :class:`PowderPlan` above it (a coarse zone set would leave most |Q| bins to
    its direction plan)."""
    from ..spinwave.powder_plan import PowderPlan

    def factory(model, *, q_edges, e_edges, accuracy, n_points=None):
        if n_points is None and accuracy <= zone_up_to:
            return ZoneFitPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy)
        return PowderPlan(model, q_edges=q_edges, e_edges=e_edges, accuracy=accuracy, n_points=n_points)

    return factory
