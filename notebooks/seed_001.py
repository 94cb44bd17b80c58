# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Seed 001 (IS Reshape v3.0): Renyi divergence, the power weight w^gamma and the ESS rule
#
# Source: `001_bfb951ae7e89f971.txt`, sections 2-13, in the seed's order. Every claim of the
# seed is in the ledger as `001-<section>-<letter>` (`isreshape audit --seed 001`); this notebook
# shows the statements, the sympy steps, the numbers, the torch twins on the same inputs and the
# computed verdicts. It defines no math: it imports `reference` (the truth), `torch_impl` (the
# fast twins) and `proofs` (sympy and the ledger).

# %%
import math

import matplotlib.pyplot as plt
import mpmath
import numpy as np
import torch

import isreshape.torch_impl.diagnostics as tdiag
import isreshape.torch_impl.divergences as tdiv
import isreshape.torch_impl.estimators as test
import isreshape.torch_impl.gamma as tgamma
from isreshape.proofs import lognormal, renyi
from isreshape.proofs.ledger import FALSE, load_all_claims, run_claim
from isreshape.reference import divergences as rdiv
from isreshape.reference import estimators as rest
from isreshape.reference.diagnostics import kish_ess_ratio_np, psis_khat_np
from isreshape.reference.divergences import (
    ess_ratio_lognormal_closed_form,
    variance_lognormal_power,
)
from isreshape.reference.gamma import gamma_reward_adjusted, gamma_star_ess

CLAIMS = load_all_claims()
RESULTS = {cid: run_claim(c) for cid, c in CLAIMS.items() if cid.startswith("001-")}


def show(*ids):
    for cid in ids:
        r = RESULTS[cid]
        print(f"{cid} [{r.outcome.verdict}] {r.claim.statement}")
        print(f"    evidence: {r.outcome.evidence}")
        if r.outcome.conditions:
            print(f"    conditions: {r.outcome.conditions}")


def t(x):
    return torch.tensor(x, dtype=torch.float64)


# %% [markdown]
# ## Sections 2-3: the two ends, f(w) = 1 (SFT, forward KL) and f(w) = w (RL, reverse KL)
# Theorem 2.2's proof in sympy (three outcomes, symbolic probabilities and rewards): the
# residual KL(pi || p*) - (-H - E[r]/tau + log Z) is zero. But the table's claim that the
# f(w) = w gradient follows the reverse KL is false: it lacks the entropy term.

# %%
print("Theorem 2.2 residual:", renyi.theorem_2_2_residual())
show("001-2.1-a", "001-2.1-b", "001-2.2-a", "001-2.2-b")
show("001-2.3-a", "001-2.3-b", "001-2.3-c", "001-2.3-d")

# %% [markdown]
# ## Section 4: the effective target pi_eff ~ mu^(1-gamma) pi^gamma r (Theorem 4.2)
# Reference and torch on the same logits; gamma = 0 gives the reward-tilted mu, gamma = 1 gives
# pi r normalised.

# %%
logits_mu = [0.3, -0.4, 1.1, 0.0, -1.2]
logits_pi = [-0.5, 0.8, 0.2, 0.6, 0.1]
log_r = list(np.log([1.0, 2.0, 0.5, 1.5, 3.0]))
fig, ax = plt.subplots(figsize=(7, 3.5))
for g in (0.0, 0.5, 1.0):
    with mpmath.workdps(30):
        ref = np.exp(
            [float(v) for v in rest.effective_target_log_probs(logits_mu, logits_pi, log_r, g)]
        )
    fast = torch.exp(
        test.effective_target_log_probs(t(logits_mu), t(logits_pi), t(log_r), t(g))
    ).numpy()
    assert np.allclose(ref, fast, rtol=1e-13)
    ax.plot(range(5), ref, "o-", label=f"pi_eff, gamma = {g}")
ax.set_xlabel("outcome y")
ax.set_ylabel("probability")
ax.set_title("Theorem 4.2: the effective target moves from mu r to pi r")
ax.legend()
plt.show()
show("001-4.1-a", "001-4.2-a", "001-4.2-b", "001-4.2-c", "001-4.2-d")

# %% [markdown]
# ## Section 5: the geometric path p_gamma ~ mu^(1-gamma) p*^gamma
# Theorem 5.2 (argmin of the KL mixture) holds; the 'Fisher-Rao geodesic' remark does not: the
# path is longer than the Fisher-Rao distance (it is the e-geodesic).

# %%
print("first-order condition:", renyi.theorem_5_2_first_order())
show("001-5.1-a", "001-5.1-b", "001-5.1-c", "001-5.2-a")

# %% [markdown]
# ## Section 6: the Renyi identity E_mu[w^gamma] = exp((gamma - 1) D_gamma(pi || mu))
# Both sides from the reference (mpmath) and the torch twins on the same logits, for gamma in
# [0, 2]; then the case pi not << mu, where the right side is infinite for gamma > 1.

# %%
lp, lm = [0.2, -0.7, 1.3, 0.4], [0.0, 0.5, -0.2, 0.9]
gammas = np.linspace(0, 2, 41)
with mpmath.workdps(30):
    lhs = [float(rdiv.power_moment_from_logits(lp, lm, g)) for g in gammas]
    rhs = [float(rdiv.renyi_identity_rhs(lp, lm, g)) for g in gammas]
lhs_t = tdiv.power_moment_from_logits(t(lp).expand(41, 4), t(lm), t(gammas)).numpy()
rhs_t = tdiv.renyi_identity_rhs(t(lp).expand(41, 4), t(lm), t(gammas)).numpy()
assert np.allclose(lhs, rhs, rtol=1e-13) and np.allclose(lhs_t, lhs, rtol=1e-13)
assert np.allclose(rhs_t, rhs, rtol=1e-12)
print(
    "log-normal Renyi:",
    renyi.renyi_lognormal(),
    "| Theorem 6.3 residual:",
    renyi.renyi_variance_residual(),
    "| KL limit residual:",
    renyi.renyi_kl_limit_residual(),
)
show("001-6.1-a", "001-6.2-a", "001-6.2-b", "001-6.3-a", "001-6.3-b")

# %% [markdown]
# ## Section 7: bias and variance
# Bias(gamma) = KL(p* || p_gamma) with p_gamma the effective target at r = 1 and pi = p*
# (reference `effective_target_log_probs`, `kl_divergence`): decreasing and convex on [0, 1],
# flat at gamma = 1. Variance V(gamma) = E[w^(2 gamma)] under Assumption 7.3: exact (reference
# and torch) and Monte Carlo, minimum at gamma = 0.25, not 0.

# %%
logits_pstar = [1.5, -0.5, 0.3, -1.0, 0.8]
g_grid = np.linspace(0, 1.3, 53)
with mpmath.workdps(30):
    bias = [
        float(
            rdiv.kl_divergence(
                logits_pstar,
                [
                    float(v)
                    for v in rest.effective_target_log_probs(
                        logits_mu, logits_pstar, [0.0] * 5, min(g, 1.0)
                    )
                ],
            )
        )
        for g in g_grid[g_grid <= 1.0]
    ]
rng = np.random.default_rng(1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(g_grid[g_grid <= 1.0], bias)
ax1.set_xlabel("gamma")
ax1.set_ylabel("KL(p* || p_gamma)")
ax1.set_title("Definition 7.1: Bias(gamma)")
mc_rel = {}
for s2, colour in zip((0.25, 1.0, 2.0, 4.0), ("C0", "C1", "C2", "C3")):
    exact = [float(variance_lognormal_power(g, s2)) for g in gammas[:21]]
    fast = tdiv.variance_lognormal_power(t(gammas[:21]), s2).numpy()
    assert np.allclose(exact, fast, rtol=1e-13)
    lw = rng.normal(-s2 / 2, math.sqrt(s2), size=50_000)
    mc = [float(np.mean(np.exp(2 * g * lw))) for g in gammas[:21]]
    mc_rel[s2] = max(abs(a / b - 1) for a, b in zip(mc[:6], exact[:6]))  # gamma <= 0.25
    ax2.plot(gammas[:21], exact, color=colour, label=f"exact, sigma^2 = {s2}")
    ax2.plot(gammas[:21], mc, "o", color=colour, ms=3)
ax2.axvline(0.25, color="grey", ls=":")
ax2.set_yscale("log")
ax2.set_xlabel("gamma")
ax2.set_ylabel("V(gamma) = E[w^(2 gamma)]")
ax2.set_title("Theorem 7.4: exact (lines) and Monte Carlo n = 5e4 (dots)")
ax2.legend(fontsize=7)
plt.show()
print("Monte Carlo max relative deviation for gamma <= 0.25:", mc_rel)
print(
    "dV/dg residual:",
    renyi.variance_derivative_residual(),
    "| argmin for mean m:",
    renyi.variance_minimiser_general_mean(),
)
show("001-7.1-a", "001-7.1-b", "001-7.1-c", "001-7.1-d", "001-7.2-a", "001-7.2-b")
show("001-7.2-c", "001-7.2-d", "001-7.2-e", "001-7.3-a", "001-7.3-b")

# %% [markdown]
# ## Section 8: ESS_gamma / n = exp(-sigma^2 gamma^2) (Theorem 8.2) and gamma* (Theorem 8.3)
# Exact closed form (mpmath and torch) against the Kish ESS of 20 000 seeded log-normal draws.

# %%
print("E[w^gamma] =", lognormal.power_moment())
print("residual   =", lognormal.ess_closed_form_residual())
rng = np.random.default_rng(0)
gammas_1 = np.linspace(0, 1, 21)
fig, ax = plt.subplots(figsize=(7, 4.5))
mc_dev = 0.0
for s2, colour in zip((0.25, 1.0, 2.0, 4.0), ("C0", "C1", "C2", "C3")):
    exact = [float(ess_ratio_lognormal_closed_form(g, s2)) for g in gammas_1]
    fast = tdiv.ess_ratio_lognormal_closed_form(torch.tensor(gammas_1), s2).numpy()
    lw = rng.normal(-s2 / 2, math.sqrt(s2), size=20_000)
    mc = np.array([kish_ess_ratio_np(g * lw) for g in gammas_1])
    mc_torch = tdiag.kish_ess_ratio(torch.tensor(gammas_1)[:, None] * torch.tensor(lw)).numpy()
    assert np.allclose(exact, fast, rtol=1e-14)
    assert np.allclose(mc, mc_torch, rtol=1e-12)
    dev = float(np.max(np.abs(mc / np.array(exact) - 1)))
    print(f"sigma^2 = {s2}: max relative Monte Carlo deviation over gamma in [0, 1]: {dev:.2%}")
    if s2 == 0.25:
        mc_dev = dev
    ax.plot(gammas_1, exact, color=colour, label=f"exact, sigma^2 = {s2}")
    ax.plot(gammas_1, mc, "o", color=colour, ms=3, label=f"Monte Carlo n=20000, sigma^2 = {s2}")
ax.set_xlabel("gamma")
ax.set_ylabel("ESS_gamma / n")
ax.set_title("Seed 001 Theorem 8.2: ESS/n = exp(-sigma^2 gamma^2), exact vs Monte Carlo")
ax.legend(fontsize=7, ncol=2)
plt.show()

# %% [markdown]
# The sample ESS converges slowly when w^gamma has a heavy tail (sigma^2 = 4): the population
# identity is exact, a finite batch is not the population (`001-8.1-b`).

# %%
print("sympy boundary solution:", lognormal.gamma_star_solutions())
s2_grid = np.logspace(-2, 2, 200)
fig, ax = plt.subplots(figsize=(7, 4))
for rho in (0.1, 0.3, 0.5, 0.9):
    ax.semilogx(s2_grid, [float(gamma_star_ess(s, rho)) for s in s2_grid], label=f"rho_min={rho}")
ax.set_xlabel("sigma^2 = Var(log w)")
ax.set_ylabel("gamma*")
ax.set_title("Seed 001 Theorem 8.3: the ESS-constrained gamma*")
ax.legend()
plt.show()
lw_batch = torch.tensor(np.random.default_rng(5).normal(-1, math.sqrt(2), size=(3, 16)))
seed_code = tgamma.compute_optimal_gamma_seed_code(lw_batch, torch.zeros_like(lw_batch), 0.3)
print("Algorithm 8.4 as written, three batches of 16:", seed_code.tolist())
show("001-8.1-a", "001-8.2-a", "001-8.1-b", "001-8.1-c", "001-8.2-b")
show("001-8.3-a", "001-8.3-b", "001-8.3-c")

# %% [markdown]
# ## Section 9: the reward-adjusted gamma (Theorem 9.1)
# The formula is a heuristic; under independent normal rewards entering as exp(r / tau) it
# breaks the ESS constraint it is meant to keep.

# %%
with mpmath.workdps(30):
    g_r = [float(gamma_reward_adjusted(1.0, v, 1.0, 0.3)) for v in (0.0, 0.5, 1.0, 2.0)]
g_r_t = tgamma.gamma_reward_adjusted(t(1.0), t([0.0, 0.5, 1.0, 2.0]), t(1.0), t(0.3))
assert np.allclose(g_r, g_r_t.numpy(), rtol=1e-14)
print("gamma_r* for sigma_r^2 = 0, 0.5, 1, 2 (sigma^2 = 1, tau = 1):", np.round(g_r, 4))
g_fix = tgamma.gamma_reward_adjusted_corrected(t(1.0), t([0.0, 0.5, 1.0, 2.0]), t(1.0), t(0.3))
print("corrected (ESS of w^gamma exp(r/tau) >= 0.3):", np.round(g_fix.numpy(), 4))
print("ESS/n at the printed gamma_r*:", np.round(np.exp(-(np.array(g_r) ** 2) - [0, 0.5, 1, 2]), 4))
show("001-9.1-a", "001-9.1-b", "001-9.2-a")

# %% [markdown]
# ## Section 10: monotonicity table and Theorem 10.1
# The MSE Bias^2 + lambda V is convex, hence its minimiser is unique; the seed's argument
# (monotone pieces) does not prove that.

# %%
show("001-10.1-a", "001-10.1-b", "001-10.1-c", "001-10.2-a", "001-10.2-b")

# %% [markdown]
# ## Section 11: PSIS k-hat and gamma
# k-hat of w^gamma against gamma for a Pareto tail (k = 0.8, where Theorem 11.1's gamma k
# holds) and a log-normal one (true k = 0, where the finite-sample k-hat does not scale).
# torch (batched over gamma) and the NumPy reference on the same draws.

# %%
rng = np.random.default_rng(11)
lw_pareto = rng.exponential(0.8, size=20_000)
lw_lognormal = rng.normal(-2.0, 2.0, size=20_000)
g_k = np.linspace(0.1, 1.0, 10)
fig, ax = plt.subplots(figsize=(7, 4))
khat = {}
for name, lw in (("Pareto k = 0.8", lw_pareto), ("log-normal sigma = 2", lw_lognormal)):
    fast = tdiag.psis_khat(torch.tensor(g_k)[:, None] * torch.tensor(lw)).numpy()
    ref = np.array([psis_khat_np(g * lw) for g in g_k])
    assert np.allclose(fast, ref, rtol=1e-10)
    khat[name] = fast
    ax.plot(g_k, fast, "o-", label=f"k-hat(w^gamma), {name}")
    ax.plot(g_k, g_k * fast[-1], ":", label=f"gamma * k-hat(w), {name}")
ax.axhline(0.7, color="grey", ls="--", label="0.7")
ax.set_xlabel("gamma")
ax.set_ylabel("PSIS k-hat")
ax.set_title("Theorem 11.1: k-hat(w^gamma) vs gamma k-hat(w)")
ax.legend(fontsize=7)
plt.show()
print(
    "k-hat bound 0.7 / k-hat(w) for the Pareto sample:",
    float(tgamma.gamma_khat_bound(t(khat["Pareto k = 0.8"][-1]))),
)
show("001-11.2-a", "001-11.2-b", "001-11.2-c")

# %% [markdown]
# ## Section 12: what `ISReshapeTrainer` computes
# softmax(gamma log w) weights (self-normalised), not Definition 4.1's w^gamma / n: the ratio is
# n / sum w^gamma, constant within a batch and different across batches.

# %%
lw_b = torch.tensor(np.random.default_rng(12).normal(-1.1, 1.5, size=(3, 8)))
phi = test.trainer_gradient_weights_seed_code(lw_b, torch.ones_like(lw_b), t(0.5))
with mpmath.workdps(30):
    phi_ref = [
        float(v) for v in rest.trainer_gradient_weights_seed_code(lw_b[0].tolist(), [1.0] * 8, 0.5)
    ]
assert np.allclose(phi[0].numpy(), phi_ref, rtol=1e-13)
ratio = phi / (torch.exp(0.5 * lw_b) / 8)
print("trainer weight / Definition 4.1 weight, per batch:", ratio[:, 0].tolist())
show("001-12.1-a", "001-12.1-b", "001-12.1-c", "001-12.1-d")

# %% [markdown]
# ## Section 13: summary claims

# %%
show("001-13.1-a", "001-13.2-a", "001-13.3-a", "001-13.3-b")

# %% [markdown]
# ## The ledger for seed 001
# Every computed verdict, and each FALSE claim with its counterexample.

# %%
from collections import Counter  # noqa: E402

counts = Counter(r.outcome.verdict for r in RESULTS.values())
print(dict(counts))
for cid, r in RESULTS.items():
    if r.outcome.verdict == FALSE:
        print(f"FALSE {cid}: {r.claim.statement}\n    {r.outcome.evidence}\n")

# %%
assert all(r.matches for r in RESULTS.values())
assert len(RESULTS) >= 40 and counts[FALSE] >= 5
assert mc_dev < 0.02
assert all(v < 0.05 for v in mc_rel.values())
assert all(b1 >= b2 for b1, b2 in zip(bias, bias[1:]))
# one k-hat from S = 2e4 (tail M = 425): 3 asymptotic standard deviations (1 + k) / sqrt(M)
assert abs(khat["Pareto k = 0.8"][-1] - 0.8) < 3 * 1.8 / math.sqrt(425)
# sigma^2 = 1.2, rho_min = 0.3: sqrt(-log 0.3 / 1.2) = 1.0017 is clipped to 1, and then the
# constraint still holds: exp(-1.2) = 0.3012 >= 0.3
with mpmath.workdps(50):
    assert gamma_star_ess(1.2, 0.3) == 1
    assert ess_ratio_lognormal_closed_form(1, 1.2) >= 0.3
