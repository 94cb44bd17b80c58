# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # The exact off-policy laboratory
#
# Every gradient-weight design of the package on problems small enough to enumerate: bias,
# variance and MSE of the one-sample policy-gradient estimate are finite sums, computed exactly
# (`reference/lab.py`). This notebook draws what a reader wants to see: the bias-variance
# frontier per design, MSE against off-policyness and heavy tails, the token MDP
# (token- against sequence-level designs) and training curves. It defines no math of its own.

# %%
import matplotlib.pyplot as plt
import mpmath

from isreshape.reference import lab

mpmath.mp.dps = 20  # plots need 3 digits; the lab's tests check 1e-12 against torch


def table(inst):
    return {r["design"]: r for r in lab.lab_table(inst)}


b8 = table(lab.bandit8())
print(f"{'design':24s} {'bias':>10s} {'variance':>10s} {'mse n=64':>10s}")
for d, r in b8.items():
    print(f"{d:24s} {float(r['bias']):10.3e} {float(r['variance']):10.3e} {float(r['mse'][64]):10.3e}")
assert b8["is"]["bias"] < 1e-15  # plain importance sampling is unbiased

# %% [markdown]
# ## 1. The bias-variance frontier on bandit8 and far off-policy
# Each point is a design at its default parameters (`lab.DESIGNS`). Lines of equal MSE at
# n = 64 draws are bias² + variance / 64 = const.

# %%
far = table(lab.bandit8_offpolicy(3.0))
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, rows, title in ((axes[0], b8, "bandit8 (t = 1)"), (axes[1], far, "far (t = 3)")):
    for d, r in rows.items():
        x, y = float(r["variance"]), float(r["bias"]) ** 2
        ax.scatter(x, y, s=12)
        ax.annotate(d, (x, y), fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("variance of one draw")
    ax.set_title(title)
axes[0].set_ylabel("bias²")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. MSE against off-policyness
# mu moves along the line from pi_theta (t = 0) through bandit8's mu (t = 1) and beyond; the
# x axis is KL(pi_theta || mu). At n = 64 draws, which design wins depends on how far mu is.

# %%
ts = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
insts = [lab.bandit8_offpolicy(t) for t in ts]
kl = [float(lab.offpolicyness(i)["kl_pi_mu"]) for i in insts]
sweep = [table(i) for i in insts]
shown = ("is", "power", "sft_weighted", "ppo_clip", "trust_region", "tis_token", "sapo")
fig, ax = plt.subplots(figsize=(6, 4))
for d in shown:
    ax.plot(kl, [float(rows[d]["mse"][64]) for rows in sweep], marker="o", ms=3, label=d)
ax.set_xlabel("KL(pi_theta || mu)")
ax.set_ylabel("MSE of the 64-draw mean")
ax.set_yscale("log")
ax.legend(fontsize=7)
plt.show()
for t, rows in zip(ts, sweep):
    best = min(rows, key=lambda d: rows[d]["mse"][64])
    print(f"t = {t:4}: best at n = 64: {best:18s} (plain IS {float(rows['is']['mse'][64]):.2e})")

# %% [markdown]
# ## 3. Heavy tails
# mu puts eps of its bandit8 odds on the two best actions: w there is about 1/eps. The
# log-weight variance under mu *falls* as eps falls (mu rarely sees the tail) while the ESS
# collapses: a gamma rule driven by sigma² of log w (the seeds' ESS rule) is blind to it.

# %%
for eps in (1.0, 0.1, 0.01, 0.001):
    inst = lab.bandit8_heavy_tail(eps)
    off = lab.offpolicyness(inst)
    rows = table(inst)
    print(
        f"eps = {eps:6}: sigma² of log w = {float(off['sigma2_log_w']):.3f}, ESS/n = "
        f"{float(rows['is']['ess']):.4f}, var(IS) = {float(rows['is']['variance']):8.3f}, "
        f"var(power 0.5) = {float(rows['power']['variance']):.3f}"
    )

# %% [markdown]
# ## 4. The gradient variance against gamma
# Seed 001's corollary 7.5 puts the minimum of E[w^{2γ}] at γ = 1/4 for log-normal w. The
# variance of the policy-gradient estimate w^γ A (e_y − π) has its minimum elsewhere, and
# moves with the distance (claim 001-7.2-e of the ledger decides this).

# %%
gs = [k / 20 for k in range(0, 41)]
fig, ax = plt.subplots(figsize=(6, 4))
for t in (0.5, 1.0, 2.0, 4.0):
    inst = lab.bandit8_offpolicy(t)
    vs = [float(lab.design_moments(inst, "power", {"gamma": g})["variance"]) for g in gs]
    ax.plot(gs, vs, label=f"t = {t}")
    print(f"t = {t}: argmin gamma = {gs[vs.index(min(vs))]}")
ax.axvline(0.25, color="grey", ls=":")
ax.set_xlabel("γ")
ax.set_ylabel("variance of one draw")
ax.legend()
plt.show()

# %% [markdown]
# ## 5. Token against sequence level: the token MDP
# T = 3 steps over V = 4 tokens, all 64 sequences enumerated (`reference/lab_mdp.py`). Plain
# sequence IS (phi_t = W A, W the product of the token ratios) is unbiased; every token-level
# design keeps a bias that more data does not remove, so at large n the sequence designs win.

# %%
from isreshape.reference import lab_mdp  # noqa: E402

mdp = {r["design"]: r for r in lab_mdp.mdp_lab_table()}
print(f"{'design':16s} {'level':9s} {'bias':>10s} {'variance':>10s} {'mse n=4096':>11s}")
for d, r in sorted(mdp.items(), key=lambda kv: float(kv[1]["mse"][4096])):
    print(
        f"{d:16s} {r['level']:9s} {float(r['bias']):10.3e} {float(r['variance']):10.3e} "
        f"{float(r['mse'][4096]):11.3e}"
    )
assert mdp["is_sequence"]["bias"] < 1e-15 < mdp["is_token"]["bias"]
fig, ax = plt.subplots(figsize=(6, 4))
for d, r in mdp.items():
    ns = [1, 4, 16, 64, 256, 1024, 4096]
    ax.plot(ns, [float(r["bias"] ** 2 + r["variance"] / n) for n in ns],
            ls="-" if r["level"] == "sequence" else ":", label=d)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("n sequences")
ax.set_ylabel("MSE of the n-sequence mean")
ax.legend(fontsize=6, ncol=2)
plt.show()

# %% [markdown]
# ## 6. Training curves with stale data
# Exact-gradient ascent on bandit8's logits, behaviour refreshed to pi_theta every K = 32 steps
# (`reference/lab_dynamics.py`). Reward, KL(pi_theta || mu) (the staleness) and the ESS of the
# behaviour data per step. Claims 003-8.2-c, 003-6.3-c and 001-12.1-f of the ledger are
# decided by runs like these.

# %%
from isreshape.reference import lab_dynamics  # noqa: E402

runs = {
    d: lab_dynamics.train(lab.bandit8(), d, steps=160, lr=1.0, refresh_every=32)
    for d in ("is", "ppo_clip", "trust_region", "trust_region_adaptive", "sft_weighted")
}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
for d, run in runs.items():
    axes[0].plot(run["reward"], label=d)
    axes[1].plot(run["kl_mu_after"], label=d)
    axes[2].plot(run["ess"], label=d)
axes[0].set_ylabel("E_pi[r]")
axes[1].set_ylabel("KL(pi_theta || mu) after the step")
axes[2].set_ylabel("ESS / n of w under mu")
for ax in axes:
    ax.set_xlabel("step")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()
for d, run in runs.items():
    print(f"{d:22s} final reward {run['reward'][-1]:.4f}, 90% at step {run['target_step']}, "
          f"pi(best) >= 0.9 at step {run['best_step']}")
