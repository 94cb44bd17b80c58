# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Seed 000 (IS Reshape v2.1): the variational principle, checked step by step
#
# Source: `000_34894e68ab44ae30.txt`. The seed maximises a learning utility
# f |A| phi(w, A) under a variance budget E[f^2 A^2] <= C_max, gets f* = phi / (2 lambda |A|),
# matches w^gamma to f* (Theorem 4.1), then replaces the result by a four-case rule (Theorem
# 7.1 / section 8.1) with two soft versions (8.2, 8.3) and reference code (section 10).
#
# This notebook defines no math: it imports `reference.variational` (mpmath truth),
# `torch_impl.variational` (the fast twins), `proofs.variational` (sympy) and the ledger
# (`proofs/claims/seed_000.py`), and shows each step with its claim ids and computed verdicts.

# %%
import math

import matplotlib.pyplot as plt
import mpmath
import numpy as np
import torch

import isreshape.reference.variational as rv
import isreshape.torch_impl.variational as tv
from isreshape.proofs import variational as pv
from isreshape.proofs.ledger import FALSE, load_all_claims, run_claim

CLAIMS = load_all_claims()
RESULTS = {}


def show(*ids):
    """Run the named claims and print verdict and evidence (no math here)."""
    for cid in ids:
        r = run_claim(CLAIMS[cid])
        RESULTS[cid] = r
        cond = f"\n    conditions: {r.outcome.conditions}" if r.outcome.conditions else ""
        print(
            f"{cid} [{r.outcome.verdict}] {CLAIMS[cid].statement}\n    {r.outcome.evidence}{cond}"
        )


def ref(fn, *args):
    with mpmath.workdps(30):
        return float(fn(*args))


def t64(values):
    return torch.tensor(values, dtype=torch.float64)


# %% [markdown]
# ## 1. The unified gradient (sections 1.2-1.4)
# Both paths are E_mu[f(w) A grad log pi] with f = 1 (SFT) or f = w (RL), w^gamma in between.
# The identities hold on exact expectations; one advantage A = r - b does not serve both paths.

# %%
show("000-1.2-a", "000-1.2-b", "000-1.2-c", "000-1.3-a", "000-1.4-a", "000-1.4-b")

# %% [markdown]
# ## 2. Marginal utility (section 2.3) and the "correction" of sections 6.3 / 7.1
# Statement: phi = 1/(1+w) for A > 0, w/(1+w) for A < 0, unified as 1/(1 + w^sign(A)).
# Sympy: the piecewise form equals the unified form, and the unified form equals the
# "corrected" sigma(-sign(A) log w) of section 7.1 identically.

# %%
print("piecewise - unified:", pv.phi_piecewise_vs_unified())
print("1/(1+w^s) - sigma(-s log w), s = +1, -1:", pv.phi_sigmoid_identity())
print("limits:", pv.phi_limits())
lw_grid = np.linspace(-6, 6, 25)
phi_ref = [ref(rv.marginal_utility_section_2_3, x, 1.0) for x in lw_grid]
phi_soft = [ref(rv.marginal_utility_soft, x, 1.0, 1.0) for x in lw_grid]
phi_t = tv.marginal_utility_section_2_3(t64(lw_grid), 1.0).numpy()
print("max |2.3 - 7.1| (mpmath):", max(abs(a - b) for a, b in zip(phi_ref, phi_soft)))
print("max |torch - mpmath|:", float(np.max(np.abs(phi_t - np.array(phi_ref)))))
show("000-2.3-a", "000-2.3-b", "000-6.3-a", "000-6.3-b", "000-6.3-c", "000-7.1-a")

# %% [markdown]
# The section 5.2 table of phi, printed next to the limits the formula really has.

# %%
print(f"{'case':<22}{'printed':>10}{'w -> 0 / inf':>14}{'at w = 1':>10}")
for label, lw, a, printed in (
    ("1 (w>1, A>0) 1/(1+w)", 40.0, 1.0, "-> 0"),
    ("2 (w>1, A<0) w/(1+w)", 40.0, -1.0, "-> 1"),
    ("3 (w<1, A>0) 1/(1+w)", -40.0, 1.0, "-> 0.5"),
    ("4 (w<1, A<0) w/(1+w)", -40.0, -1.0, "-> 0"),
):
    far = ref(rv.marginal_utility_section_2_3, lw, a)
    at1 = ref(rv.marginal_utility_section_2_3, 0.0, a)
    print(f"{label:<22}{printed:>10}{far:>14.4f}{at1:>10.2f}")
show("000-5.2-a", "000-5.2-b", "000-5.2-c", "000-5.2-d", "000-5.2-e")

# %% [markdown]
# ## 3. The Lagrangian and f* (sections 2.4-3.4, appendix B)

# %%
print("L =", pv.lagrangian())
print("dL/df =", pv.first_order_condition(), "  d2L/df2 =", pv.second_derivative())
print("f* =", pv.optimal_f())
print("lambda =", pv.lambda_solutions())
fs_ref = [ref(rv.optimal_weight, x, 1.0, 0.05) for x in (-2.0, 0.0, 2.0)]
fs_t = tv.optimal_weight(t64([-2.0, 0.0, 2.0]), 1.0, 0.05).tolist()
print("f*(log w = -2, 0, 2; A = 1, lambda = 0.05): mpmath", fs_ref, " torch", fs_t)
show("000-3.1-a", "000-3.2-a", "000-3.3-a", "000-3.4-a", "000-B-a", "000-B-b", "000-B-c")

# %% [markdown]
# ## 4. From f* to gamma* (Theorem 4.1)
# Statement: gamma* = clip[(-log(2 lambda |A|) - log(1 + w^sign(A))) / log w, 0, 1]. Sympy: the
# expansion, the limits of the unclipped ratio in the four regimes, and the exact identity
# raw(A < 0) = 1 + raw(A > 0).

# %%
print("expansion residual:", pv.gamma_expansion_residual())
print("raw(A<0) - raw(A>0) =", pv.gamma_raw_sign_difference())
print("limits:", pv.gamma_raw_limits())
show("000-4.1-a", "000-4.2-a", "000-4.3-a", "000-4.3-b", "000-4.3-c", "000-4.3-d")
show("000-4.4-a", "000-4.4-b", "000-4.4-c", "000-4.4-d", "000-4.4-e", "000-4.4-f", "000-4.4-g")

# %% [markdown]
# ## 5. The section 5.1 table: printed numbers against the formula
# alpha = 0.1 is lambda = 0.05 with A = +-1. The seed's own code cannot even print the table:
# `gamma_star(2, -1)` raises in NumPy (a Python int to a negative integer power).

# %%
PRINTED_51 = (
    ("Case 1", 2.0, 1.0, 0.42),
    ("Case 2", 2.0, -1.0, 0.85),
    ("Case 3", 0.5, 1.0, 0.58),
    ("Case 4", 0.5, -1.0, 0.93),
    ("Case 4 (extreme)", 0.1, -1.0, 0.99),
)
lw51 = t64([math.log(w) for _, w, _, _ in PRINTED_51])
a51 = t64([a for _, _, a, _ in PRINTED_51])
torch51 = tv.gamma_star_exact(lw51, a51, 0.05).tolist()
real51 = []
print(f"{'':<18}{'w':>6}{'A':>5}{'printed':>9}{'mpmath':>9}{'torch':>9}")
for (label, w, a, printed), g_t in zip(PRINTED_51, torch51):
    g = ref(rv.gamma_star_exact, math.log(w), a, 0.05)
    real51.append(g)
    print(f"{label:<18}{w:>6}{a:>5}{printed:>9.2f}{g:>9.4f}{g_t:>9.4f}")
show("000-5.1-a", "000-5.1-b", "000-5.1-c", "000-5.1-d", "000-5.1-e", "000-5.1-f", "000-5.1-g")

# %% [markdown]
# ## 6. The "practical" gammas (sections 6.1 and 6.2)

# %%
for name, fn, extra in (
    ("6.1 (eps = 1e-3)", rv.gamma_approx_section_6_1, (1e-3,)),
    ("6.2 (gamma_base = 0.4)", rv.gamma_practical_section_6_2, (0.4,)),
):
    row = [
        ref(fn, lw, a, *extra) for lw, a in ((30.0, 1.0), (30.0, -1.0), (-30.0, 1.0), (-30.0, -1.0))
    ]
    print(f"{name:<24} cases 1-4 at |log w| = 30:", [round(v, 6) for v in row])
show("000-6.1-a", "000-6.1-b", "000-6.1-c", "000-6.2-a", "000-6.2-b", "000-6.2-c", "000-6.2-d")

# %% [markdown]
# ## 7-8. The four-case rule and its soft versions
# The table of 8.1 is (0, gamma_base, gamma_base, 1). Each soft formula is evaluated far from
# the boundaries (|log w| = |A| = 60 log 2, T = 1000 where it has a temperature), printed next
# to the table. The formulas of 8.2 and 8.3 as printed miss it; the corrected ones hit it.

# %%
GB = 0.4
far = [
    (60 * math.log(2), 60.0),
    (60 * math.log(2), -60.0),
    (-60 * math.log(2), 60.0),
    (-60 * math.log(2), -60.0),
]
designs = {
    "Theorem 7.1 / 8.1 (hard)": lambda lw, a: ref(rv.gamma_hard, lw, a, GB),
    "8.2 as printed": lambda lw, a: ref(rv.gamma_soft_section_8_2, lw, a, GB, 1000.0),
    "8.2 corrected": lambda lw, a: ref(rv.gamma_soft_section_8_2_corrected, lw, a, GB, 1000.0),
    "8.3 as printed": lambda lw, a: ref(rv.gamma_soft_section_8_3, lw, a, GB),
    "8.3 corrected": lambda lw, a: ref(rv.gamma_soft_section_8_3_corrected, lw, a, GB, 1000.0),
}
print(f"{'design':<26}{'case 1':>8}{'case 2':>8}{'case 3':>8}{'case 4':>8}")
print(f"{'printed table (8.1)':<26}{0:>8}{GB:>8}{GB:>8}{1:>8}")
limits = {}
for name, fn in designs.items():
    limits[name] = [fn(lw, a) for lw, a in far]
    print(f"{name:<26}" + "".join(f"{v:>8.3f}" for v in limits[name]))
lw_far, a_far = t64([x for x, _ in far]), t64([y for _, y in far])
torch_far = tv.gamma_soft_section_8_3_corrected(lw_far, a_far, GB, 1000.0).tolist()
print("torch, 8.3 corrected:", [round(v, 3) for v in torch_far])
show("000-7.3-a", "000-7.3-b", "000-7.4-a", "000-7.4-b", "000-7.4-c", "000-7.4-d", "000-8.1-a")
show("000-8.2-a", "000-8.3-a", "000-8.3-b", "000-8.3-c", "000-8.3-d", "000-8.3-e")

# %% [markdown]
# ## 10. The reference code: `is_reshape_v2_gamma` and `is_reshape_v2_loss`
# The code computes the corrected 8.3 mixture with a temperature on both factors and
# gamma_base from the ESS rule; its loss uses `ref_log_prob` (not the behaviour policy) and
# detaches w^gamma. Torch autograd of the seed's loss equals minus the reference weight.

# %%
rng = np.random.default_rng(0)
lw10 = rng.normal(-0.1, 0.6, 12)
a10 = rng.normal(0.0, 1.0, 12)
with mpmath.workdps(30):
    g_ref = [float(v) for v in rv.is_reshape_v2_gamma(lw10.tolist(), a10.tolist())]
    wt_ref = [float(v) for v in rv.is_reshape_v2_gradient_weight(lw10.tolist(), a10.tolist())]
g_t = tv.is_reshape_v2_gamma(t64(lw10), t64(a10)).numpy()
log_prob = t64(lw10).requires_grad_(True)
zeros = torch.zeros(12, dtype=torch.float64)
loss = tv.is_reshape_v2_loss(log_prob, zeros, zeros, t64(a10), torch.ones(12, dtype=torch.float64))
(grad,) = torch.autograd.grad(loss, log_prob)
print("max |torch gamma - mpmath|:", float(np.max(np.abs(g_t - np.array(g_ref)))))
print("max |autograd + weight|:", float(np.max(np.abs(grad.numpy() + np.array(wt_ref)))))
show("000-10-a", "000-10-b", "000-10-c", "000-10-d", "000-10-e", "000-10-f", "000-10-g")

# %% [markdown]
# ## Plots: every marginal utility and every gamma over log w, for A > 0 and A < 0
# Torch twins on a dense grid (log w = 0 is left out for the ratio designs of Theorem 4.1).

# %%
x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
x_nz = x[x != 0]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
for ax, a in zip(axes, (1.0, -1.0)):
    ax.plot(x, tv.marginal_utility_section_2_3(x, a), label="2.3: 1/(1+w^sign A) (= 7.1, T=1)")
    ax.plot(x, tv.marginal_utility_hard(x, a), "--", label="6.3 hard: 1[sign log w != sign A]")
    ax.plot(x, tv.marginal_utility_soft(x, a, 5.0), ":", label="6.3 soft, T=5")
    ax.set_title(f"Seed 000 marginal utility phi(w, A), A = {a:+g}")
    ax.set_xlabel("log w")
    ax.legend(fontsize=8)
axes[0].set_ylabel("phi")
plt.show()

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
for ax, a in zip(axes, (1.0, -1.0)):
    ax.plot(x_nz, tv.gamma_star_exact(x_nz, a, 0.05), label="Thm 4.1 exact (alpha=0.1)")
    ax.plot(x_nz, tv.gamma_star_approx(x_nz, a), label="Thm 4.1 approx")
    ax.plot(
        x,
        tv.gamma_approx_section_6_1(x, a, 1e-3).clamp(-0.5, 1.5),
        label="6.1 (shown clipped to [-0.5, 1.5])",
    )
    ax.plot(x, tv.gamma_practical_section_6_2(x, a, GB), label="6.2 practical")
    ax.plot(x, tv.gamma_hard(x, a, GB), "k--", label="Thm 7.1 / 8.1 hard")
    ax.plot(x, tv.gamma_soft_section_8_2(x, a, GB, 5.0), label="8.2 as printed, T=5")
    ax.plot(x, tv.gamma_soft_section_8_2_corrected(x, a, GB, 5.0), label="8.2 corrected, T=5")
    ax.plot(x, tv.gamma_soft_section_8_3(x, a, GB), label="8.3 as printed")
    ax.plot(x, tv.gamma_soft_section_8_3_corrected(x, a, GB, 5.0), label="8.3 corrected, T=5")
    ax.set_title(f"Seed 000 gamma(w, A), A = {a:+g}, gamma_base = {GB}")
    ax.set_xlabel("log w")
    ax.set_ylim(-0.55, 1.55)
    ax.legend(fontsize=7)
axes[0].set_ylabel("gamma")
plt.show()

# %% [markdown]
# ## The ledger for seed 000

# %%
show("000-abstract-a", "000-abstract-b", "000-abstract-c", "000-9.1-a", "000-9.2-a", "000-9.3-a")
show("000-A-a", "000-A-b", "000-A-c")
seed_ids = [cid for cid in CLAIMS if cid.startswith("000-")]
counts = {}
for cid in seed_ids:
    if cid not in RESULTS:
        RESULTS[cid] = run_claim(CLAIMS[cid])
    counts[RESULTS[cid].outcome.verdict] = counts.get(RESULTS[cid].outcome.verdict, 0) + 1
print(len(seed_ids), "claims:", counts)
print("FALSE claims:")
for cid in seed_ids:
    if RESULTS[cid].outcome.verdict == FALSE:
        print(f"  {cid}: {CLAIMS[cid].statement}")

# %%
assert all(RESULTS[cid].matches for cid in seed_ids), [
    c for c in seed_ids if not RESULTS[c].matches
]
assert set(RESULTS) == set(seed_ids)
# the section 5.1 table: no printed number is what the formula gives; torch agrees with mpmath
assert all(abs(g - p) > 0.05 for g, (_, _, _, p) in zip(real51, PRINTED_51))
assert np.allclose(torch51, real51, rtol=1e-12, atol=1e-15)
# the corrected soft formulas reproduce the 8.1 table far from the boundaries; as printed not
assert np.allclose(limits["8.3 corrected"], [0, GB, GB, 1], atol=1e-9)
assert np.allclose(limits["8.2 corrected"], [0, GB, GB, 1], atol=1e-9)
assert not np.allclose(limits["8.2 as printed"], [0, GB, GB, 1], atol=0.1)
assert not np.allclose(limits["8.3 as printed"], [0, GB, GB, 1], atol=0.1)
assert np.allclose(torch_far, limits["8.3 corrected"], atol=1e-12)
# the section 10 code and its loss gradient
assert np.allclose(g_t, g_ref, rtol=1e-12)
assert np.allclose(-grad.numpy(), wt_ref, rtol=1e-12, atol=1e-300)
