"""Spin-wave physics against analytic oracles, sum rules, an equivalent supercell, and the torch backend.

Oracles (S spin length, J exchange; DESIGN.md §5 and textbook LSWT):
FM chain ω = 2|J|S(1 − cos 2πh); AFM chain (2-site cell) ω = 2JS|sin πh|; square AFM (√2×√2 cell)
ω = 4JS√(1 − γ²), γ = cos πh cos πk; triangular 120° (rotating frame) ω = 3JS√((1 − γ)(1 + 2γ)),
γ = (cos 2πh + cos 2πk + cos 2π(h + k))/3; J1–J2 Néel chain ω = 2S√((J1 − J2(1 − cos 2πh))² − (J1 cos πh)²).
"""

import numpy as np
import pytest

from insgan_core.errors import InsganInputError, SpinWaveInstabilityError
from insgan_core.spinwave import (
    Anisotropy,
    Bond,
    Lattice,
    Site,
    SpinWaveCalculator,
    SpinWaveModel,
    form_factor,
    known_ions,
    load_model,
)
from insgan_core.spinwave.bose import KB_MEV_PER_K, bose_factor
from insgan_core.spinwave.hamiltonian import MU_B_MEV_PER_T
from insgan_core.spinwave.solver import helical_average

RNG = np.random.default_rng(1234)


def _random_q(n, *, scale=1.0):
    return RNG.uniform(-scale, scale, size=(n, 3))


def _fm_chain(J=-1.7, S=2.5, **kw):
    return SpinWaveModel(
        name="fm", lattice=Lattice(3.0, 10.0, 10.0), sites=[Site("A", (0, 0, 0), S, moment=(0, 0, 1))],
        bonds=[Bond("A", "A", (1, 0, 0), J)], **kw,
    )


# --- dispersion oracles -------------------------------------------------------------------------
def test_fm_chain_dispersion_and_weight():
    J, S = -1.7, 2.5
    q = _random_q(200)
    e, s = SpinWaveCalculator(_fm_chain(J, S)).dispersion(q)
    exact = 2 * abs(J) * S * (1 - np.cos(2 * np.pi * q[:, 0]))
    np.testing.assert_allclose(e[:, 0], exact, rtol=1e-8, atol=1e-12)
    # one mode carrying S_xx + S_yy = S; S_perp = S (1 + Qz^2)/2 for moments along z
    qc = Lattice(3.0, 10.0, 10.0).q_cartesian(q)
    qz2 = qc[:, 2] ** 2 / np.sum(qc**2, axis=1)
    np.testing.assert_allclose(s[:, 0], S * (1 + qz2) / 2, rtol=1e-9)


def test_afm_chain_dispersion_and_tan_weight():
    model = load_model("afm_chain", "J=3.1, S=1.5")
    q = _random_q(200)
    q[:, 0] = RNG.uniform(0.01, 0.99, size=200) * RNG.choice([-1, 1], size=200)
    e, s = SpinWaveCalculator(model).dispersion(q)
    exact = 2 * 3.1 * 1.5 * np.abs(np.sin(np.pi * q[:, 0]))
    np.testing.assert_allclose(e, np.stack([exact, exact], 1), rtol=1e-8)
    # closed form (LSWT, 2-sublattice chain): S^xx = S^yy = (S/2)|tan(q d/2)| per spin, q d = pi h here,
    # moments along z -> S_perp = (S/2)|tan(pi h/2)| (1 + Qz^2) summed over the two degenerate modes
    qc = model.lattice.q_cartesian(q)
    qz2 = qc[:, 2] ** 2 / np.sum(qc**2, axis=1)
    np.testing.assert_allclose(s.sum(1), 1.5 / 2 * np.abs(np.tan(np.pi * q[:, 0] / 2)) * (1 + qz2), rtol=1e-8)


def test_square_afm_dispersion():
    model = load_model("square_afm", "J=1.3, S=0.5")
    q = _random_q(300, scale=2.0)
    e, _ = SpinWaveCalculator(model).dispersion(q)
    g = np.cos(np.pi * q[:, 0]) * np.cos(np.pi * q[:, 1])
    exact = 4 * 1.3 * 0.5 * np.sqrt(1 - g**2)
    np.testing.assert_allclose(e, np.stack([exact, exact], 1), rtol=1e-8, atol=1e-7)


def test_triangular_rotating_frame_dispersion():
    model = load_model("triangular_afm", "J=2.2, S=1.5")
    q = _random_q(300)
    e, s = SpinWaveCalculator(model).dispersion(q)
    k = np.array([1 / 3, 1 / 3, 0])

    def omega(qq):
        g = (np.cos(2 * np.pi * qq[:, 0]) + np.cos(2 * np.pi * qq[:, 1]) + np.cos(2 * np.pi * (qq[:, 0] + qq[:, 1]))) / 3
        return 3 * 2.2 * 1.5 * np.sqrt(np.clip((1 - g) * (1 + 2 * g), 0, None))

    for block, shift in enumerate((-k, 0 * k, k)):
        np.testing.assert_allclose(e[:, block], omega(q + shift), rtol=1e-8, atol=1e-7)
    assert np.all(np.isfinite(s)) and np.all(s >= -1e-12)


def test_j1j2_neel_chain_dispersion():
    J1, J2, S = 4.0, 0.6, 2.5
    model = load_model("j1j2_chain", {"J1": J1, "J2": J2, "S": S})
    q = _random_q(100)
    e, _ = SpinWaveCalculator(model).dispersion(q)
    h = q[:, 0]
    exact = 2 * S * np.sqrt((J1 - J2 * (1 - np.cos(2 * np.pi * h))) ** 2 - (J1 * np.cos(np.pi * h)) ** 2)
    np.testing.assert_allclose(e[:, 0], exact, rtol=1e-8, atol=1e-7)


def test_easy_plane_and_zeeman_gaps():
    """Easy-plane FM chain: ω = sqrt(ε(ε + 2DS)); FM along B: ω = ε + gμ_B B (field sign convention)."""
    J, S, D, B = -1.0, 2.0, 0.3, 4.0
    q = _random_q(50)
    eps = 2 * abs(J) * S * (1 - np.cos(2 * np.pi * q[:, 0]))
    plane = SpinWaveModel(
        name="xy", lattice=Lattice(3.0, 10.0, 10.0), sites=[Site("A", (0, 0, 0), S, moment=(1, 0, 0))],
        bonds=[Bond("A", "A", (1, 0, 0), J)], anisotropies=[Anisotropy.axial("A", D, (0, 0, 1))],
    )
    e, _ = SpinWaveCalculator(plane).dispersion(q)
    np.testing.assert_allclose(e[:, 0], np.sqrt(eps * (eps + 2 * D * S)), rtol=1e-8, atol=1e-9)
    e, _ = SpinWaveCalculator(_fm_chain(J, S, field_T=(0, 0, B))).dispersion(q)
    np.testing.assert_allclose(e[:, 0], eps + 2.0 * MU_B_MEV_PER_T * B, rtol=1e-8)


# --- sum rules ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["afm_chain", "square_afm", "triangular_afm", "j1j2_chain"])
def test_first_moment_sum_rule(name):
    """Hohenberg–Brinkman: Σ_m ω_m tr S_m(Q) = −(2/N) Σ_bonds J_ij S_i·S_j (1 − cos Q·r_ij) (Heisenberg, T = 0).

    P. C. Hohenberg and W. F. Brinkman, Phys. Rev. B 10, 128 (1974); classical correlations at the
    order of linear spin-wave theory; per site, each bond once.
    """
    model = load_model(name)
    calc = SpinWaveCalculator(model)
    q = _random_q(40)
    ms = calc.modes(q, correlation=True)
    loss = ms.energies > 0
    trace = np.trace(ms.sab, axis1=2, axis2=3).real
    lhs = np.sum(np.where(loss, ms.energies * trace, 0.0), axis=1)
    r = model.resolve()
    # lab-frame spins: rotating-frame structures rotate by 2πk·Δ along each bond
    cosang = np.einsum("ma,ma->m", r.directions[r.bond_i], r.directions[r.bond_j])
    if r.incommensurate:
        cosang = np.cos(2 * np.pi * r.bond_vectors @ r.k)  # all moments ⊥ n, same direction in the rotating frame
    sisj = r.spins[r.bond_i] * r.spins[r.bond_j] * cosang
    Jiso = np.trace(r.bond_J, axis1=1, axis2=2) / 3
    phase = np.cos(2 * np.pi * q @ r.bond_vectors.T)
    rhs = -(2.0 / r.n_sites) * np.sum(Jiso * sisj * (1 - phase), axis=1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-8, atol=1e-9)


def test_total_moment_sum_rule_fm():
    """Ferromagnet: Σ_modes (S^xx + S^yy) = S at every Q (transverse part of the total-moment rule)."""
    ms = SpinWaveCalculator(_fm_chain()).modes(_random_q(50), correlation=True)
    loss = ms.energies > 0
    transverse = (ms.sab[:, :, 0, 0] + ms.sab[:, :, 1, 1]).real
    np.testing.assert_allclose(np.sum(np.where(loss, transverse, 0), axis=1), 2.5, rtol=1e-10)


# --- rotating frame vs an equivalent commensurate supercell --------------------------------------
def _merge(e, w, tol=1e-6):
    order = np.argsort(e)
    e, w = e[order], w[order]
    groups, weights = [e[0]], [w[0]]
    for a, b in zip(e[1:], w[1:]):
        if abs(a - groups[-1]) < tol:
            weights[-1] += b
        else:
            groups.append(a)
            weights.append(b)
    return np.array(groups), np.array(weights)


def _compare_spectra(calc_a, q_a, calc_b, q_b, q_cart):
    ma = calc_a.modes(q_a, correlation=True)
    mb = calc_b.modes(q_b, correlation=True)
    qhat = q_cart / np.linalg.norm(q_cart, axis=1, keepdims=True)
    for i in range(len(q_a)):
        sa = helical_average(ma.sab[i], np.array([0.0, 0.0, 1.0]))
        sb = helical_average(mb.sab[i], np.array([0.0, 0.0, 1.0]))
        pa = np.real(np.trace(sa, axis1=1, axis2=2) - np.einsum("a,mab,b->m", qhat[i], sa, qhat[i]))
        pb = np.real(np.trace(sb, axis1=1, axis2=2) - np.einsum("a,mab,b->m", qhat[i], sb, qhat[i]))
        la, lb = ma.energies[i] > 1e-9, mb.energies[i] > 1e-9
        ea, wa = _merge(ma.energies[i][la], pa[la])
        eb, wb = _merge(mb.energies[i][lb], pb[lb])
        keep_a, keep_b = wa > 1e-9, wb > 1e-9
        np.testing.assert_allclose(ea[keep_a], eb[keep_b], rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(wa[keep_a], wb[keep_b], rtol=1e-7, atol=1e-9)


def test_triangular_rotating_frame_equals_sqrt3_supercell():
    J, S, a = 1.0, 1.5, 3.0
    from insgan_core.spinwave import bonds_in_shell

    small = Lattice(a, a, 10.0, 90, 90, 120)
    single = SpinWaveModel(
        name="tri1", lattice=small, sites=[Site("A", (0, 0, 0), S, moment=(1, 0, 0))],
        bonds=[Bond("A", "A", off, J) for _, _, off in bonds_in_shell(small, [(0, 0, 0)], shell=1)],
        k=(1 / 3, 1 / 3, 0), n=(0, 0, 1),
    )
    # √3×√3 cell A1 = 2a1 + a2, A2 = −a1 + a2 (rotated by +30° from a1); chemical sites 0, a1, 2a1
    big = Lattice(np.sqrt(3) * a, np.sqrt(3) * a, 10.0, 90, 90, 120)
    rot30 = np.radians(-30.0)  # chemical-frame vectors seen in the supercell frame (x ∥ A1)
    dirs = [np.array([np.cos(t + rot30), np.sin(t + rot30), 0.0]) for t in (0, 2 * np.pi / 3, 4 * np.pi / 3)]
    sites = [Site(f"S{i}", p, S, moment=tuple(d)) for i, (p, d) in enumerate(zip([(0, 0, 0), (1 / 3, 2 / 3, 0), (2 / 3, 1 / 3, 0)], dirs))]

    bonds = [Bond(f"S{i}", f"S{j}", off, J) for i, j, off in bonds_in_shell(big, [s.position for s in sites], shell=1)]
    supercell = SpinWaveModel(name="tri3", lattice=big, sites=sites, bonds=bonds)
    q_chem = _random_q(25)
    q_cart = single.lattice.q_cartesian(q_chem)
    q_big = big.q_rlu(np.einsum("ab,nb->na", np.array([[np.cos(rot30), -np.sin(rot30), 0], [np.sin(rot30), np.cos(rot30), 0], [0, 0, 1]]), q_cart))
    # sanity: the mapping is the lattice relation H = 2h + k, K = -h + k
    np.testing.assert_allclose(q_big[:, :2], np.stack([2 * q_chem[:, 0] + q_chem[:, 1], -q_chem[:, 0] + q_chem[:, 1]], 1), atol=1e-9)
    _compare_spectra(SpinWaveCalculator(single), q_chem, SpinWaveCalculator(supercell), q_big, q_cart)


def test_helix_rotating_frame_equals_supercell():
    """J1–J2 chain with J1 = 2 J2 > 0 has a k = 1/3 helix: rotating frame vs 3-site supercell."""
    J1, J2, S, a = 2.0, 1.0, 1.0, 3.0
    single = SpinWaveModel(
        name="helix1", lattice=Lattice(a, 10, 10), sites=[Site("A", (0, 0, 0), S, moment=(1, 0, 0))],
        bonds=[Bond("A", "A", (1, 0, 0), J1), Bond("A", "A", (2, 0, 0), J2)], k=(1 / 3, 0, 0), n=(0, 0, 1),
    )
    angles = 2 * np.pi * np.arange(3) / 3
    sites = [Site(f"S{i}", (i / 3, 0, 0), S, moment=(np.cos(t), np.sin(t), 0)) for i, t in enumerate(angles)]
    bonds = []
    for i in range(3):
        for step, J in ((1, J1), (2, J2)):
            j = i + step
            bonds.append(Bond(f"S{i}", f"S{j % 3}", (j // 3, 0, 0), J))
    supercell = SpinWaveModel(name="helix3", lattice=Lattice(3 * a, 10, 10), sites=sites, bonds=bonds)
    q = _random_q(25)
    q_big = q * np.array([3.0, 1.0, 1.0])
    _compare_spectra(SpinWaveCalculator(single), q, SpinWaveCalculator(supercell), q_big, single.lattice.q_cartesian(q))


# --- backends, Goldstone modes, instabilities ----------------------------------------------------
@pytest.mark.parametrize("name", ["afm_chain", "square_afm", "triangular_afm", "kagome_q0", "helix_chain"])
def test_numpy_and_torch_agree(name):
    pytest.importorskip("torch")
    model = load_model(name)
    q = _random_q(64)
    a = SpinWaveCalculator(model, backend="numpy").modes(q, form_factor=True)
    b = SpinWaveCalculator(model, backend="torch").modes(q, form_factor=True)
    np.testing.assert_allclose(b.energies, a.energies, rtol=1e-10, atol=1e-10)
    # weights of individual modes inside a degenerate subspace depend on the eigenbasis LAPACK picks;
    # the weight per distinct energy (summed over the subspace) is what is physical
    for i in range(len(q)):
        for block in np.split(np.arange(a.energies.shape[1]), a.energies.shape[1] // (2 * model.n_sites)):
            ea, wa = _merge(a.energies[i, block], a.sperp[i, block], tol=1e-7)
            eb, wb = _merge(b.energies[i, block], b.sperp[i, block], tol=1e-7)
            np.testing.assert_allclose(eb, ea, rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(wb, wa, rtol=1e-10, atol=1e-10)


def test_goldstone_and_degenerate_modes_are_finite():
    for model, q in ((load_model("afm_chain"), [[0, 0, 0], [1, 0, 0], [2, 0, 0]]), (_fm_chain(), [[0, 0, 0], [1, 0, 0]]),
                     (load_model("triangular_afm"), [[0, 0, 0], [1 / 3, 1 / 3, 0], [1, 0, 0]])):
        for backend in ("numpy", "torch"):
            ms = SpinWaveCalculator(model, backend=backend).modes(np.array(q, dtype=float), form_factor=True)
            assert np.all(np.isfinite(ms.energies)) and np.all(np.isfinite(ms.sperp))
            assert np.all(np.abs(ms.energies).min(axis=1) < 0.05)  # the Goldstone mode stays near zero


def test_unstable_structure_raises_and_white_continues():
    model = _fm_chain(J=+1.0)  # antiferromagnetic J on a ferromagnetic structure: stationary but unstable
    q = np.array([[0.1, 0, 0], [0.3, 0, 0]])
    for backend in ("numpy", "torch"):
        with pytest.raises(SpinWaveInstabilityError, match=r"First offending Q = \[0\.1, 0\.0, 0\.0\].*most negative eigenvalue"):
            SpinWaveCalculator(model, backend=backend).dispersion(q)
    e, s = SpinWaveCalculator(model, hermitian=False).dispersion(q)
    assert np.all(np.isfinite(e)) and np.all(np.isfinite(s))
    np.testing.assert_allclose(np.abs(e[:, 0]), 2 * 2.5 * (1 - np.cos(2 * np.pi * q[:, 0])), rtol=1e-8)


def test_non_ground_state_is_rejected():
    model = SpinWaveModel(
        name="tilted", lattice=Lattice(6.0, 10, 10),
        sites=[Site("A", (0, 0, 0), 1.0, moment=(0, 0, 1)), Site("B", (0.5, 0, 0), 1.0, moment=(1, 0, 1))],
        bonds=[Bond("A", "B", (0, 0, 0), 1.0), Bond("B", "A", (1, 0, 0), 1.0)],
    )
    with pytest.raises(SpinWaveInstabilityError, match="not a classical ground state.*J > 0 antiferromagnetic"):
        SpinWaveCalculator(model)
    assert np.all(np.isfinite(SpinWaveCalculator(model, check_ground_state=False, hermitian=False).dispersion([[0.2, 0, 0]])[0]))


# --- Bose factor, form factor --------------------------------------------------------------------
def test_detailed_balance():
    model = load_model("afm_chain")
    q = _random_q(20)
    T = 50.0
    e, i = SpinWaveCalculator(model).spectrum(q, temperature_K=T, form_factor=False)
    gain, loss = e < 0, e > 0
    # centrosymmetric model: S(Q, -ω) = exp(-ω/kT) S(Q, ω) for each distinct |ω| (degenerate modes summed)
    for row in range(len(q)):
        el, il = _merge(e[row][loss[row]], i[row][loss[row]])
        eg, ig = _merge(-e[row][gain[row]], i[row][gain[row]])
        np.testing.assert_allclose(eg, el, rtol=1e-10)
        np.testing.assert_allclose(ig, il * np.exp(-el / (KB_MEV_PER_K * T)), rtol=1e-8)
    np.testing.assert_allclose(bose_factor(np.array([-1.0, 0.0, 1.0]), temperature_K=0.0), [0, 0, 1])
    with pytest.raises(InsganInputError, match="temperature"):
        bose_factor(1.0, temperature_K=-1)


def test_form_factor_normalised_and_decreasing():
    q = np.linspace(0, 6, 61)
    for ion in known_ions():
        f = form_factor(ion, q)
        assert abs(f[0] - 1.0) < 3e-3, ion  # <j0(0)> = A + B + C + D ≈ 1 for every tabulated ion
        assert f[-1] < f[0]
    # the <j2> term vanishes for g = 2 and lowers F at finite Q for g < 2 (orbital contribution)
    np.testing.assert_allclose(form_factor("Fe3+", q, g=2.0), form_factor("Fe3", q))
    assert np.all(form_factor("Ho3+", q[1:], g=1.25) > form_factor("Ho3+", q[1:], g=2.0))
    with pytest.raises(InsganInputError, match="no form-factor table for ion 'Xx9'"):
        form_factor("Xx9", q)


def test_half_integer_k_equals_collinear_supercell():
    """k = ½ single-k (2k a lattice vector, no phase averaging) reproduces the collinear 2-site chain."""
    J, S, a = 1.0, 1.0, 3.0
    single = SpinWaveModel(name="k_half", lattice=Lattice(a, 10, 10), sites=[Site("A", (0, 0, 0), S, moment=(1, 0, 0))],
                           bonds=[Bond("A", "A", (1, 0, 0), J)], k=(0.5, 0, 0), n=(0, 0, 1))
    double = SpinWaveModel(name="neel", lattice=Lattice(2 * a, 10, 10),
                           sites=[Site("A", (0, 0, 0), S, moment=(1, 0, 0)), Site("B", (0.5, 0, 0), S, moment=(-1, 0, 0))],
                           bonds=[Bond("A", "B", (0, 0, 0), J), Bond("B", "A", (1, 0, 0), J)])
    q = _random_q(30)
    ma = SpinWaveCalculator(single).modes(q)
    mb = SpinWaveCalculator(double).modes(q * np.array([2.0, 1.0, 1.0]))
    for i in range(len(q)):
        la, lb = ma.energies[i] > 0, mb.energies[i] > 0
        ea, wa = _merge(ma.energies[i][la], ma.sperp[i][la])
        eb, wb = _merge(mb.energies[i][lb], mb.sperp[i][lb])
        np.testing.assert_allclose(ea, eb, rtol=1e-9)
        np.testing.assert_allclose(wa, wb, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", ["triangular_afm", "helix_chain", "bi2fe4o9"])
def test_single_k_fast_sperp_equals_tensor_contraction(name):
    """S⊥ from the adjoint shortcut equals the polarisation contraction of the full lab-frame tensors."""
    from insgan_core.spinwave.intensity import perpendicular_weight_tensor

    calc = SpinWaveCalculator(load_model(name))
    q = _random_q(12)
    fast = calc.modes(q)
    full = calc.modes(q, correlation=True)
    q_cart = calc.resolved.lattice.q_cartesian(q)
    q_hat = q_cart / np.linalg.norm(q_cart, axis=1, keepdims=True)
    np.testing.assert_allclose(fast.sperp, perpendicular_weight_tensor(full.sab, q_hat), rtol=1e-10, atol=1e-12)


def test_k_half_side_blocks_share_one_diagonalisation(monkeypatch):
    """For 2k a reciprocal-lattice vector the Q+k block is solved as the gauge transform of Q−k.

    Compare with solving all three blocks separately (the shortcut disabled): same energies and S⊥.
    """
    calc = SpinWaveCalculator(load_model("bi2fe4o9"))
    q = _random_q(20)
    fast = calc.modes(q, form_factor=True)
    monkeypatch.setattr(SpinWaveCalculator, "_shared_side_blocks", lambda self, q, w: None)
    slow = calc.modes(q, form_factor=True)
    np.testing.assert_allclose(fast.energies, slow.energies, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(fast.sperp, slow.sperp, rtol=1e-7, atol=1e-9)
