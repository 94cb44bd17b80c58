# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Overview: the family of gradient weights phi(w, A)
#
# Every design here is a per-token gradient weight: the update is
# g = E_mu[phi(w, A) grad log pi_theta] with w = pi_theta / mu (seed 002 section 1.2). The plots
# show phi(w, A) / |A| over log w in [-3, 3], for A > 0 (left) and A < 0 (right, drawn as
# phi / |A|, so it is negative).
#
# - Baselines: SFT (phi = A, weight 1), plain IS / REINFORCE (phi = w A), power w^gamma A.
# - Peer designs as their libraries write them (`torch_impl.peers`, reference in
#   `reference/peers.py`): PPO clip with clip-higher, dual clip, CISPO (verl and TRL), SAPO,
#   token-level TIS and IcePop (masked IS), TOPR, DFT, and, as one-token sequences, GSPO and VESPO.
# - The seed designs that exist in `reference/weights.py` (seed 002) and
#   `reference/trust_region.py` (seed 003), imported only if present. Seed 000's weight
#   (`reference/variational.py::is_reshape_v2_gradient_weight`) depends on batch statistics
#   (its gamma comes from the batch's log-ratio variance), so it has no single curve here.
#
# This notebook defines no math: every curve is a library function (the torch twin where one
# exists, otherwise the mpmath reference).

# %%
import importlib
import math

import matplotlib.pyplot as plt
import mpmath
import numpy as np
import torch

import isreshape.reference.peers as rpeers
import isreshape.torch_impl.peers as tpeers
import isreshape.torch_impl.weights as tweights

LOG_W = (
    torch.arange(-300, 301, dtype=torch.float64) / 100
)  # log w in [-3, 3], exact 0 in the middle
ADVANTAGES = {"A > 0": 1.0, "A < 0": -1.0}


def evaluate(module: str, name: str, **params):
    """phi / |A| on LOG_W for A = +1 and -1: torch twin if present, else the mpmath reference."""
    out = {}
    try:
        fn = getattr(importlib.import_module(f"isreshape.torch_impl.{module}"), name)
        for label, a in ADVANTAGES.items():
            out[label] = fn(LOG_W, torch.tensor(a, dtype=torch.float64), **params).numpy() / abs(a)
        return out
    except (ImportError, AttributeError):
        pass
    fn = getattr(importlib.import_module(f"isreshape.reference.{module}"), name)
    with mpmath.workdps(20):
        for label, a in ADVANTAGES.items():
            out[label] = np.array([float(fn(float(x), a, **params)) for x in LOG_W]) / abs(a)
    return out


def available(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(f"isreshape.reference.{module}"), name)
    except ImportError:
        return False


# %% [markdown]
# ## The designs and their parameters
# Parameters are the libraries' defaults or the values their papers recommend (verl
# `clip_ratio_low` 0.2, DAPO's `clip_ratio_high` 0.28, verl `clip_ratio_c` 3, ScaleRL's CISPO
# cap 5, SAPO temperatures 1.0 / 1.05, verl's TIS cap 2 and IcePop band [0.5, 5], TRL's VESPO
# k / lambda). Sequence designs are shown for a one-token sequence, where the sequence ratio is w.

# %%
BASELINES = {
    "SFT (phi = A)": ("weights", "power_weight", {"gamma": 0.0}),
    "plain IS (phi = w A)": ("weights", "power_weight", {"gamma": 1.0}),
    "power w^0.5 A": ("weights", "power_weight", {"gamma": 0.5}),
}
PEERS = {
    "PPO clip 0.2 / 0.28": ("peers", "ppo_clip", {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}),
    "dual clip c = 3": ("peers", "ppo_dual_clip", {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28, "clip_ratio_c": 3.0}),
    "CISPO (verl)": ("peers", "cispo_verl", {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}),
    "CISPO (TRL cap 5)": ("peers", "cispo_trl", {"epsilon_high": 5.0}),
    "SAPO": ("peers", "sapo", {"tau_pos": 1.0, "tau_neg": 1.05}),
    "TIS (cap 2)": ("peers", "tis_token", {"clip_min": 0.0, "clip_max": 2.0}),
    "IcePop [0.5, 5]": ("peers", "mis_token", {"clip_min": 0.5, "clip_max": 5.0}),
    "TOPR": ("peers", "topr", {}),
    "DFT (w = p)": ("peers", "dft", {}),
}  # fmt: skip
SEQUENCE_PEERS = {
    "GSPO (1 token)": ("gspo", {"clip_ratio_low": 3e-4, "clip_ratio_high": 4e-4}),
    "VESPO (1 token)": ("vespo", {}),
}
SEED_DESIGNS = {
    "asymmetric power 0.7 / 1.3 (seed 002 4.3)": ("weights", "asymmetric_power_weight", {"gamma_pos": 0.7, "gamma_neg": 1.3}),
    "truncated w^1.5, M = 3 (seed 002 5.4)": ("weights", "truncated_power_weight", {"gamma": 1.5, "M": 3.0}),
    "soft saturation w^1.5, lam = 0.5 (seed 002 5.4)": ("weights", "soft_saturation_weight", {"gamma": 1.5, "lam": 0.5}),
    "mixture 0.5 / 1.5, w_th = 3 (seed 002 9.3)": ("weights", "mixture_weight", {"gamma_pos": 0.5, "gamma_neg": 1.5, "lam": 1.0, "w_th": 3.0}),
    "Michaelis-Menten tau = 1 (seed 002 9.2)": ("weights", "michaelis_menten_weight", {"tau": 1.0}),
    "soft trust region gamma = 0.5 (seed 003 3.3)": ("trust_region", "phi_gamma", {"gamma": 0.5, "tau": 1.0}),
    "adaptive v5 (seed 003 4.4)": ("trust_region", "phi_adaptive", {"gamma_base": 0.1, "gamma_max": 0.9, "tau_h": 1.0, "tau_c": 1.0}),
}  # fmt: skip

curves = {}
for label, (module, name, params) in {**BASELINES, **PEERS}.items():
    if available(module, name):
        curves[label] = evaluate(module, name, **params)
for label, (name, params) in SEQUENCE_PEERS.items():
    fn = getattr(tpeers, name)
    curves[label] = {
        k: fn(LOG_W[:, None], torch.tensor([[a]], dtype=torch.float64), **params)[:, 0].numpy()
        / abs(a)
        for k, a in ADVANTAGES.items()
    }
seed_curves = {}
for label, (module, name, params) in SEED_DESIGNS.items():
    if available(module, name):
        seed_curves[label] = evaluate(module, name, **params)
print(f"{len(curves)} baseline / peer designs, {len(seed_curves)} seed designs found")


# %%
def plot_family(family: dict, title: str, ylim=(-4.0, 4.0)):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=False)
    x = LOG_W.numpy()
    for ax, label in zip(axes, ADVANTAGES):
        for i, (name, values) in enumerate(family.items()):
            style = "-" if i < 10 else "--"
            ax.plot(x, values[label], style, lw=1.4, label=name)
        ax.set_xlabel("log w = log pi_theta - log mu")
        ax.set_ylabel("phi(w, A) / |A|")
        ax.set_title(f"{title}: {label}")
        ax.set_ylim(*(ylim if label == "A > 0" else (-ylim[1], -ylim[0])))
        ax.axvline(0.0, color="grey", lw=0.6)
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    plt.show()


plot_family(curves, "Baselines and peer designs", ylim=(-0.5, 5.0))

# %% [markdown]
# Reading the peers: PPO's min() zeroes the weight (not saturates it) once w leaves
# [1 - 0.2, 1 + 0.28] in the direction the advantage pushes; for A < 0 it is unbounded above
# until dual clip cuts it at c = 3. CISPO and TIS keep every token's gradient with a clipped
# weight; IcePop drops tokens outside its band. SAPO's weight 4 w sigma(z) sigma(-z) is a bump
# with phi(1) = A that vanishes at both ends. TOPR is SFT for A >= 0 and truncated IS for A < 0.
# DFT is plain IS when mu is the demonstration (w = p <= 1).

# %%
if seed_curves:
    baselines = {k: curves[k] for k in BASELINES if k in curves}
    plot_family({**baselines, **seed_curves}, "Baselines and seed designs", ylim=(-0.5, 5.0))
else:
    print("no seed designs available yet")

# %% [markdown]
# ## Seed 002 section 8.1 prints the SAPO gate, not its gradient weight
# The seed calls sigma(tau (w - 1)) 4 / tau "the weight function" of SAPO. Autograd of SAPO's
# loss -(4 / tau) sigma(tau (w - 1)) A gives 4 w sigma(z) sigma(-z) A instead.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
x = LOG_W.numpy()
one = torch.tensor(1.0, dtype=torch.float64)
ax.plot(x, tpeers.sapo(LOG_W, one).numpy(), label="SAPO gradient weight (autograd of its loss)")
ax.plot(
    x,
    tweights.sapo_weight_section_8_1(LOG_W, one, tau=1.0).numpy(),
    "--",
    label="seed 002 8.1 as written (the gate)",
)
ax.set_xlabel("log w")
ax.set_ylabel("phi(w, A = 1)")
ax.set_title("SAPO: gradient weight vs the seed's printed 'weight function' (tau = 1)")
ax.legend()
plt.show()  # fmt: skip

# %% [markdown]
# ## Table: weight at w = 1 and at the ends of the plotted range

# %%
rows = []
for name, values in {**curves, **seed_curves}.items():
    mid = len(LOG_W) // 2
    rows.append(
        (name, values["A > 0"][mid], values["A < 0"][mid], values["A > 0"][-1], values["A < 0"][-1])
    )
print(f"{'design':52s} {'A>0, w=1':>9s} {'A<0, w=1':>9s} {'A>0, w=e^3':>11s} {'A<0, w=e^3':>11s}")
for r in rows:
    print(f"{r[0]:52s} {r[1]:9.4f} {r[2]:9.4f} {r[3]:11.4f} {r[4]:11.4f}")  # fmt: skip

# %% [markdown]
# ## Checks

# %%
mid = len(LOG_W) // 2
assert float(LOG_W[mid]) == 0.0
# every design of this page has weight |phi| / |A| = 1 at w = 1, by its definition
for name, values in {**curves, **seed_curves}.items():
    for label, sign in (("A > 0", 1.0), ("A < 0", -1.0)):
        assert math.isclose(values[label][mid], sign, rel_tol=1e-12), (
            name,
            label,
            values[label][mid],
        )
# ... except the seed's printed SAPO "weight", which is 2 / tau there
assert math.isclose(
    float(tweights.sapo_weight_section_8_1(torch.tensor(0.0), one, tau=1.0)), 2.0, rel_tol=1e-6
)
# PPO zeroes the weight beyond 1 + clip_ratio_high for A > 0 and below 1 - clip_ratio_low for A < 0
ppo = curves["PPO clip 0.2 / 0.28"]
assert np.all(ppo["A > 0"][LOG_W.numpy() > math.log(1.28) + 1e-9] == 0)
assert np.all(ppo["A < 0"][LOG_W.numpy() < math.log(0.8) - 1e-9] == 0)
# dual clip only differs from PPO for A < 0 and w > c
dual = curves["dual clip c = 3"]
assert np.array_equal(dual["A > 0"], ppo["A > 0"])
assert np.all(dual["A < 0"][LOG_W.numpy() > math.log(3.0) + 1e-9] == 0)
# the torch twins agree with the mpmath reference on this grid
with mpmath.workdps(30):
    for name, (_module, fname, params) in PEERS.items():
        ref = np.array(
            [float(getattr(rpeers, fname)(float(x), 1.0, **params)) for x in LOG_W[::20]]
        )
        assert np.allclose(curves[name]["A > 0"][::20], ref, rtol=1e-12, atol=0), name
print("all checks passed")
