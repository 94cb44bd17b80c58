# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # The four headline theorems, proved in general
#
# The package's purpose in one line: ESS ≈ e^{-σ²γ²}, the Rényi identity, α* existence and
# uniqueness, and Pareto dominance, verified. This notebook walks through the general proofs of
# `proofs/theorems.py` (every step checked by sympy, the vocabulary size V a symbol), the
# certified enclosures of `reference/certified.py` (interval arithmetic), and shows each proof
# failing on a wrong formula. It defines no math of its own.

# %%
import math

import matplotlib.pyplot as plt
import mpmath
import numpy as np
import sympy as sp

import isreshape.reference.sampling as ref
from isreshape.proofs import theorems as T
from isreshape.reference import certified as C


def show(proof):
    print(proof.name)
    print("  statement:", proof.statement)
    for a in proof.assumptions:
        print("  assumes:", a)
    for step, ok in proof.verify():
        mark = {True: "checked", False: "FAILS", None: "cited"}[ok]
        print(f"  [{mark:7s}] ({step.kind}) {step.text}")
    print("  holds:", proof.holds)
    return proof.holds


# %% [markdown]
# ## 1. ESS closed form (seed 001, theorem 8.2)
# For log w ~ N(m, σ²) the moments are the normal MGF, so ESS_γ/n = E[w^γ]²/E[w^{2γ}] =
# e^{-σ²γ²} for every m. Beyond log-normal: log(ESS_γ/n) = 2K(γ) − K(2γ) for the cumulant
# generating function K, whose γⁿ coefficient is κₙ(2 − 2ⁿ)/n!; the closed form for all small
# γ forces κₙ = 0 for n ≥ 3, i.e. log w Gaussian.

# %%
assert show(T.ess_lognormal_proof(sp.exp(-T.s2 * T.g**2)))
wrong = T.ess_lognormal_proof(sp.exp(-T.s2 * T.g**2 / 2))
print("\nwith the exponent halved:", wrong.failed_steps())
assert not wrong.holds

# %%
gs = np.linspace(0, 1.5, 61)
s = 1.0
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(gs, np.exp(-(s**2) * gs**2), label="log-normal: exp(-s² γ²)")
ax.plot(gs, np.cosh(gs * s) ** 2 / np.cosh(2 * gs * s), "--", label="two-point ±s (same variance)")
ax.set_xlabel("γ")
ax.set_ylabel("ESS_γ / n")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. Rényi identity (seed 001, theorem 6.2)
# E_μ[w^γ] = exp((γ − 1) D_γ(π‖μ)) for every V and γ ≠ 1, by the summand identity
# μ(π/μ)^γ = π^γ μ^{1−γ}; the γ → 1 limit is the KL. A token with μ = 0 < π contributes 0 to
# the Rényi sum for γ < 1 but +∞ for γ > 1: the condition π ≪ μ is needed exactly when γ > 1.

# %%
assert show(T.renyi_identity_proof(lambda g, D: sp.exp((g - 1) * D)))
flipped = T.renyi_identity_proof(lambda g, D: sp.exp((1 - g) * D))
print("\nwith the sign flipped:", flipped.failed_steps())
assert not flipped.holds

# %% [markdown]
# ## 3. α* exists and is unique (seed 004, theorem 5)
# Δ(α) = KL(q_α‖π_θ) − KL(q_α‖π_t) = E_{q_α}[d] and Δ'(α) = −Var_{q_α}(d), for every V. So Δ
# is strictly decreasing (d not constant on the common support S) and α* ∈ (0, 1) exists and is
# unique exactly when Δ(0) > 0 > Δ(1). A common full support is sufficient, not necessary.

# %%
assert show(T.alpha_star_proof())
d0, d1 = T.alpha_star_support_example()
print(
    "\npi_theta = (.9, .1, 0), pi_t = (.05, .85, .1): Delta(0) =",
    sp.N(d0, 8),
    " Delta(1) =",
    sp.N(d1, 8),
)
assert d0.is_positive and d1.is_negative

# %% [markdown]
# Certified α* for that pair (different supports): an interval of width ≤ 1e-40 that provably
# contains the root (interval arithmetic shows Δ(lo) > 0 > Δ(hi)).

# %%
logp = [math.log(0.9), math.log(0.1), -math.inf]
logt = [math.log(0.05), math.log(0.85), math.log(0.1)]
lo, hi = C.optimal_alpha_enclosure(logp, logt)
print("alpha* in [", mpmath.nstr(lo, 45), ",", mpmath.nstr(hi, 45), "]")
print("width", mpmath.nstr(hi - lo, 3))
with mpmath.workdps(60):  # the reference's Newton at 60 digits lands inside
    assert hi - lo <= mpmath.mpf("1e-40") and lo < ref.optimal_alpha(logp, logt) < hi

# %%
alphas = np.linspace(0, 1, 101)
with mpmath.workdps(30):
    deltas = [float(ref.delta_alpha(logp, logt, a)) for a in alphas]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(alphas, deltas)
ax.axhline(0, color="k", lw=0.5)
ax.axvline(float(lo), color="r", ls=":", label=f"α* = {mpmath.nstr(lo, 8)}")
ax.set_xlabel("α")
ax.set_ylabel("Δ(α)")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. The Pareto fronts (seed 004, theorem 3, sections 5.2-5.3)
# α KL(q‖π_θ) + (1 − α) KL(q‖π_t) = KL(q‖q_α) − log Z_α, and Gibbs' inequality make q_α the
# unique minimiser of each weighted sum; with convex objectives the front is exactly the
# family. The ESS front is q_b ∝ sqrt(b π_θ² + (1 − b) π_t²) (KKT). A q off the front is
# dominated by q_α at the α where Δ matches (pareto_dominating_alpha).

# %%
assert show(T.pareto_proof())
mixture = T.pareto_proof(lambda al, a, b, L: sp.log(al * sp.exp(a) + (1 - al) * sp.exp(b)) - L)
print("\nthe arithmetic mixture as the front:", mixture.failed_steps())
assert not mixture.holds

# %%
lt, lg = [1.0, 0.2, -0.5, -1.0], [-0.8, 0.1, 0.9, 0.3]
lq = [0.5, 0.5, -1.5, 0.2]  # some q, not on the front
with mpmath.workdps(30):
    front = [(float(ref.kl_q_theta(lt, lg, a)), float(ref.kl_q_target(lt, lg, a))) for a in alphas]
    kq = (float(ref.kl_divergence(lq, lt)), float(ref.kl_divergence(lq, lg)))
    a_dom = ref.pareto_dominating_alpha(lq, lt, lg)
    kdom = (float(ref.kl_q_theta(lt, lg, a_dom)), float(ref.kl_q_target(lt, lg, a_dom)))
    margin = float(ref.pareto_margin(lq, lt, lg))
print(
    f"q: KLs {kq[0]:.4f}, {kq[1]:.4f}; q_alpha at alpha = {float(a_dom):.4f}: {kdom[0]:.4f}, {kdom[1]:.4f}"
)
assert kdom[0] < kq[0] and kdom[1] < kq[1] and margin > 0
with mpmath.workdps(30):
    ess_front = [
        (
            float(ref.ess_section_4_2(lt, ref_logits, 1)),
            float(ref.ess_section_4_2(lg, ref_logits, 1)),
        )
        for ref_logits in (
            [mpmath.log(v) for v in ref.ess_front_distribution(lt, lg, b)] for b in alphas
        )
    ]
fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
a1.plot(*zip(*front), label="geometric family (KL front)")
a1.plot(*kq, "o", label="q")
a1.plot(*kdom, "s", label="q_α dominating q")
a1.set_xlabel("KL(q‖π_θ)")
a1.set_ylabel("KL(q‖π_t)")
a1.legend(fontsize=7)
a2.plot(*zip(*ess_front), label="ESS front q_b")
a2.set_xlabel("ESS_θ fraction")
a2.set_ylabel("ESS_t fraction")
a2.legend(fontsize=7)
plt.show()
