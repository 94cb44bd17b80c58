"""Hypothesis properties over every registered reference function and every NumPy companion.

For each golden spec (the public ``torch_impl`` functions with a reference twin):

(a) finite inputs in the documented domain give finite outputs, or the documented value (an
    inf / NaN that the reference also returns), or a ``ValueError`` exactly where the reference
    raises one;
(b) the torch twin agrees with the mpmath reference (evaluated at 30 digits) within the one
    tolerance table ``tests/tolerances.py``, in float64 and in float32 (the reference then
    evaluated at the float32-rounded input, as the golden fixtures do).

The generic strategy stays in the documented domain by drawing a non-error fixture case of the
function and perturbing its tensor arguments by a small random relative amount (zeros, infinities
and subnormal-sized values are kept), after a random permutation or sub-batch of its vector
arguments, and by stacking up to three perturbed copies into one batched call. Dedicated
strategies cover the gradient weights phi(log_w, A) on a box, Kish ESS and PSIS k-hat on random
samples, and alpha* on random logits pairs. The NumPy companions (``*_np``) are compared with the
mpmath function they accompany, under that function's tolerance entry.

Examples are deterministic (the ``ci`` profile of tests/conftest.py: derandomize=True);
``HYPOTHESIS_PROFILE=explore`` draws fresh ones.
"""

from __future__ import annotations

import functools
import importlib
import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import isreshape.reference.diagnostics as rdiag
import isreshape.reference.sampling as rsamp
import isreshape.reference.trust_region as rtr
import isreshape.reference.variational as rvar
from isreshape.reference.golden import (
    _to_mp,
    decode_input,
    load_all_specs,
    load_fixture,
    round_float,
)
from tests.fixture_compare import compare, flatten, representable
from tests.test_golden_torch import UNBATCHED
from tests.tolerances import tolerance

SPECS = load_all_specs()
KEYS = sorted(SPECS)
DPS = 30
# 30 digits left KL(q_alpha || pi) at alpha -> 1 (a cancellation of ~25 digits) at exactly 0 where
# 50 digits give 5e-22: the distribution modules are evaluated at 50
DPS_BY_MODULE = {"sampling": 50, "divergences": 50}
TINY = 1e-250  # README: keep |x| at 0 or above 1e-250 (subnormals are flushed by CPU kernels)
ERROR = "ValueError"

# mpmath cost per evaluation is 20-30 ms for these (PSIS grid, nested bisections)
SLOW = {
    "diagnostics.psis_khat",
    "sampling.alpha_ess_balance",
    "sampling.pareto_dominating_alpha",
    "sampling.pareto_margin",
}

# no shrink phase: shrinking vectors through mpmath (PSIS, alpha*) took minutes; the examples are
# derandomized, so a failure reprints the same (unshrunk) inputs on every run
COMMON = dict(
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def twin(spec):
    return getattr(importlib.import_module(f"isreshape.torch_impl.{spec.module}"), spec.name)


@functools.cache
def valid_rows(key: str) -> tuple[dict, ...]:
    """Decoded inputs of the fixture cases of ``key`` that do not expect a ValueError."""
    spec = SPECS[key]
    rows = load_fixture(spec.module, spec.name)["cases"]
    return tuple(
        {k: decode_input(v) for k, v in r["inputs"].items()}
        for r in rows
        if not isinstance(r["expected"], dict)
    )


# ---------------------------------------------------------------- evaluation


def reference_value(spec, inputs: dict, dtype: str = "float64"):
    """The mpmath value at ``inputs`` (tensor args rounded to ``dtype`` first), flattened to
    floats, or ERROR."""
    with mpmath.workdps(DPS_BY_MODULE.get(spec.module, DPS)):
        args = {}
        for k, v in inputs.items():
            if k in spec.tensor_args:
                if dtype != "float64":
                    v = _round(v, dtype)
                args[k] = _to_mp(v)
            elif k in spec.float_args:
                args[k] = _to_mp(v)
            else:
                args[k] = v
        try:
            out = spec.function(**args)
        except ValueError:
            return ERROR
        return [float(x) for x in _flat_mp(out)]


def _flat_mp(value):
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat_mp(v)]
    return [value]


def _round(v, dtype):
    if isinstance(v, list):
        return [_round(x, dtype) for x in v]
    return round_float(v, dtype)


def torch_args(spec, copies: list[dict], dtype: torch.dtype, trailing_one: bool = True):
    """One call's arguments: the inputs of one copy as is, or B copies stacked (vectors to
    [B, n], per-row scalars to [B, 1] or [B]), as tests/test_golden_torch.py batches them."""
    first = copies[0]
    args = {}
    for k, v in first.items():
        if k in spec.tensor_args:
            if len(copies) == 1:
                t = torch.tensor(v, dtype=torch.float64)
            else:
                t = torch.tensor([c[k] for c in copies], dtype=torch.float64)
                if t.dim() == 1 and trailing_one:
                    t = t.reshape(-1, 1)
            args[k] = t.to(dtype)
        elif isinstance(v, list) and len(copies) > 1:
            args[k] = torch.tensor([c[k] for c in copies])
        else:
            args[k] = v
    return args


def _trainer_loss_bound(copies: list[dict]) -> float:
    """Absolute error bound, in eps, of -sum_i s_i A_i log_pi_i (s = softmax(gamma log w)).

    A signed sum has no relative bound: near a zero crossing any fixed rtol fails. Each term
    carries <= (n + 3) eps relative error (the softmax's argument in two words, exp 1 ulp, its
    normaliser's n - 1 additions, two products) and summing n terms adds <= (n - 1) eps of
    sum |t_i|: |error| <= (2 n + 2) eps sum_i |t_i|, t_i computed here in float64 (ample for a
    bound). The largest row of a batched call bounds them all."""
    worst = 0.0
    for c in copies:
        lp = np.asarray(c["log_pi"], dtype=np.float64)
        lw = lp - np.asarray(c["log_mu"], dtype=np.float64)
        x = float(c["gamma"]) * lw
        s = np.exp(x - x.max())
        s /= s.sum()
        t = s * np.broadcast_to(np.asarray(c["A"], dtype=np.float64), lp.shape) * lp
        worst = max(worst, (2 * lp.shape[-1] + 2) * float(np.abs(t).sum(-1).max()))
    return worst


def _tv_bound(copies: list[dict]) -> float:
    """Absolute error bound, in eps, of the section 7.7 total variation from logits.

    The value moves under the rounding of its inputs alone: a logit z_i known to eps |z_i| / 2
    changes p_i and q_i by at most eps max|z| relative each (through the normaliser too), and
    TV = sum |min(p, q) - beta q| (beta = sum min(p, q)) changes by at most 4 eps max|z| (each
    of min(p, q) and beta q moves by <= 2 eps max|z| of a mass <= 1). A backward-stable
    evaluation is exact for inputs a few ulps away: 4 ulps of backward error, so
    16 eps max|z|. Nearly equal p and q make TV ~ 1e-10 while this stays ~1e-15, so no relative
    tolerance can hold there (seen: 2e-8 relative at TV = 4.9e-10, |z| <= 2)."""
    worst = 0.0
    for c in copies:
        z = np.concatenate([np.asarray(c[k], dtype=np.float64).ravel() for k in ("logits_proposal", "logits_q")])
        worst = max(worst, 16 * float(np.abs(z[np.isfinite(z)]).max(initial=1.0)))
    return worst


# functions whose value is a signed sum, or a small difference of O(1) masses: an absolute
# tolerance from the terms' magnitude (in eps of the dtype)
SIGNED_SUMS = {
    "estimators.trainer_loss_seed_code": _trainer_loss_bound,
    "sampling.speculative_bias_tv_section_7_7": _tv_bound,
}


# property (a) alone: errors where the reference errs, the reference's non-finite values, finite
# values elsewhere, and (as a sanity bound only) within 50 % of the reference
DOMAIN_ONLY_RTOL = 0.5
DOMAIN_ONLY_ATOL_EPS = 64  # absolute slack for values that are (nearly) 0, in eps of the dtype


def check_twin(
    spec, copies: list[dict], dtype_name: str, batchable: bool = True, domain_only: bool = False
) -> None:
    """Properties (a) and (b) for the twin of ``spec`` on ``copies`` (inputs of equal shapes);
    (a) alone with ``domain_only``."""
    dtype = getattr(torch, dtype_name)
    fn = twin(spec)
    wants = [reference_value(spec, c, dtype_name) for c in copies]
    if domain_only:
        rtol, atol = DOMAIN_ONLY_RTOL, DOMAIN_ONLY_ATOL_EPS * torch.finfo(dtype).eps
    else:
        rtol, atol = tolerance(spec.key, dtype_name)
        if spec.key in SIGNED_SUMS:
            atol = max(atol, SIGNED_SUMS[spec.key](copies) * torch.finfo(dtype).eps)
    if len(copies) == 1 or not batchable or any(w == ERROR for w in wants):
        for c, want in zip(copies, wants):
            args = torch_args(spec, [c], dtype)
            if want == ERROR:
                with pytest.raises(ValueError):
                    fn(**args)
                continue
            _compare_call(spec, fn, args, c, want, dtype, rtol, atol)
        return
    has_vector = any(isinstance(v, list) for v in copies[0].values())
    errors = []
    for trailing_one in (True, False) if has_vector else (True,):
        args = torch_args(spec, copies, dtype, trailing_one)
        try:
            out = fn(**args)
        except (RuntimeError, ValueError) as exc:
            errors.append(repr(exc))
            continue
        per_row = len(wants[0])
        if out.shape[0] == len(copies) and out.numel() == len(copies) * per_row:
            _check_output(spec, out, args, copies, sum(wants, []), dtype, rtol, atol)
            return
        errors.append(f"shape {tuple(out.shape)}")
    raise AssertionError(f"{spec.key}: no batched call of {len(copies)} rows: {errors}")


def _seed_branches_explained(copies, got, wanted, dtype):
    """The seed's bisection branches on sign(delta): a row whose result differs from the
    exact-arithmetic path is accepted only where, at the first midpoint the paths part,
    |delta| is below the dtype's rounding of the sum (at the inputs as the dtype holds them);
    accepted rows are dropped from the value comparison, every other row is compared."""
    unit = torch.finfo(dtype).eps
    keep_got, keep_want = [], []
    for c, g, w in zip(copies, got, wanted):
        if g != w:
            held = {
                k: torch.tensor(v, dtype=dtype).tolist() if k.startswith("logits") else v
                for k, v in c.items()
            }
            if _seed_delta_below_rounding(held, g, w, unit):
                continue
        keep_got.append(g)
        keep_want.append(w)
    return keep_got, keep_want


def _compare_call(spec, fn, args, inputs, want, dtype, rtol, atol):
    before = {k: v.clone() for k, v in args.items() if isinstance(v, torch.Tensor)}
    try:
        out = fn(**args)
    except ValueError as exc:
        raise AssertionError(
            f"{spec.key} ({dtype}) raised {exc!r} where the reference gives {want} at {inputs}"
        ) from exc
    for k, v in before.items():
        assert torch.equal(args[k], v) or (
            torch.isnan(args[k]).any() and torch.equal(args[k].isnan(), v.isnan())
        ), f"{spec.key} modified its input {k}"
    _check_output(spec, out, args, [inputs], want, dtype, rtol, atol)


def _check_output(spec, out, args, copies, want, dtype, rtol, atol):
    assert isinstance(out, torch.Tensor), f"{spec.key} returned {type(out).__name__}"
    assert out.dtype == dtype, f"{spec.key}: output dtype {out.dtype}, input dtype {dtype}"
    got = flatten(out)
    wanted = [representable(w, dtype) for w in want]
    if spec.key == "sampling.solve_kl_symmetry_seed_code":
        got, wanted = _seed_branches_explained(copies, got, wanted, dtype)
    bad, _ = compare(got, wanted, rtol, atol, [f"[{i}]" for i in range(len(got))])
    assert not bad, "\n".join(
        [f"{spec.key} at {dtype}, {len(copies)} row(s), inputs {copies}:"] + bad
    )


# ---------------------------------------------------------------- generic strategy


def _perturb_value(v, deltas, scale):
    if isinstance(v, list):
        return [_perturb_value(x, [d], scale) for x, d in zip(v, deltas)]
    x = float(v)
    if x == 0 or not math.isfinite(x) or abs(x) < TINY:
        return x  # zeros, infinities and tiny values are edges of their own: keep them
    out = x * (1 + scale * deltas[0])
    return out if math.isfinite(out) and abs(out) >= TINY else x


def _take(v, index):
    return [v[i] for i in index]


@st.composite
def fixture_neighbours(draw, key: str, max_copies: int = 3):
    """B copies (same shapes) of a perturbed, permuted / sub-batched valid fixture case."""
    spec = SPECS[key]
    inputs = dict(draw(st.sampled_from(valid_rows(key))))
    lengths = {len(v) for v in inputs.values() if isinstance(v, list)}
    if len(lengths) == 1 and (n := lengths.pop()) >= 2:
        how = draw(st.sampled_from(["keep", "permute", "sub-batch"]))
        if how != "keep":
            index = draw(st.permutations(range(n)))
            if how == "sub-batch":
                index = sorted(index[: draw(st.integers(1, n))])
            inputs = {k: _take(v, index) if isinstance(v, list) else v for k, v in inputs.items()}
    n_copies = 1 if key in UNBATCHED else draw(st.integers(1, max_copies))
    copies = []
    for _ in range(n_copies):
        c = dict(inputs)
        for k in spec.tensor_args:
            v = c[k]
            if not draw(st.booleans()) and n_copies == 1:
                continue  # leave this argument on its fixture value
            size = len(v) if isinstance(v, list) else 1
            scale = 10.0 ** draw(st.integers(-13, -1))
            deltas = draw(st.lists(st.floats(-1, 1), min_size=size, max_size=size))
            c[k] = _perturb_value(v, deltas, scale)
        copies.append(c)
    return copies


def _examples(key: str) -> int:
    return 6 if key in SLOW else 25


# Accuracy findings of property (b): the twin misses the tolerance table at a point near its
# fixture cases (minimal reproducer: function, input, got vs want, error in eps vs the table's).
# xfail(strict) until the owner fixes the twin or records a justified override in
# tests/tolerances.py; property (a) keeps running for them (test_*_domain below).
KNOWN_NEAR_FIXTURE = {
    "diagnostics.psis_khat": "k-hat near 0 (100 draws, log_w in [0, 1.91]): got "
    "-0.044312255338312255, want -0.04431225533831273 (48 eps f64, table 16)",
    "sampling.optimal_alpha": "V = 12 rows with partial supports (logits spread 30): got "
    "0.38908421246077723, want 0.38908421246078007 (33 eps f64, table 16)",
    "sampling.optimal_distribution": "V = 49 random rows: an entry got 8.815926090676688e-23, "
    "want 8.815926090676599e-23 (45 eps f64, table 16); logits_theta=[10000.000000000999, 9990],"
    " logits_target=[0, 9990.635359054495]: got 0.0009999410078328802, want "
    "0.0009999410078323512 (2383 eps)",
}


# the failing example of each known finding, replayed first (explicit phase) so the strict xfail
# does not depend on which examples generation draws
REPRODUCERS = {
    "diagnostics.psis_khat": {
        "log_w": [
            0.21518230143143854,
            0.10834158255744473,
            0.2900267004231435,
            0.15870959914954422,
            0.11506727950324609,
            0.02408043403967845,
            0.36982648359795045,
            1.098882005098849,
            0.3254681908979416,
            0.012646592393358927,
            0.3287916241431814,
            1.782633063326705,
            1.9107183083881158,
            0.002293637731109296,
            0.5232501135551099,
            0.22964282600293245,
            1.0361536932315245,
            1.0626512448693823,
            0.011194289054624268,
            0.17902641200404043,
            1.547518109810924,
            0.1362495501216777,
            0.6621988073187157,
            0.4007573874380374,
            0.1471892153008486,
            0.3368086642700462,
            0.03395398166084227,
            0.24586169405140415,
            1.2233737979924133,
            0.06980599965264471,
            0.14361981448966737,
            0.18222213628949474,
            0.9294237777041972,
            0.25697149306088046,
            0.8178587738286512,
            0.20495195856434315,
            0.8049177940769622,
            1.1732194211684441,
            0.5665698024210432,
            0.3990188261096548,
            0.15186272277873605,
            0.1892472819120826,
            1.7699708300335395,
            0.13836699829908294,
            0.6545653527836831,
            0.031651434377306456,
            0.17350397640336357,
            0.023549310558670846,
            0.7338987351096439,
            0.30405945762663017,
            0.5735390231657161,
            0.44836996734259094,
            0.10459801294496711,
            0.08321588181748438,
            0.07994542115138861,
            0.3000287474825266,
            0.7892348116739616,
            0.5699338853513123,
            0.17401552932875378,
            1.1421281169427984,
            0.17872335262079697,
            1.4259612643315833,
            1.5944227617615894,
            0.31278939589657867,
            0.1313929747374493,
            0.8768685396279681,
            0.15071554187082237,
            0.6529618235520234,
            0.05534380410190101,
            0.3353946622361473,
            0.11877598666620424,
            0.01981658424242578,
            0.05170237933847781,
            0.1435655677900581,
            0.11259366741626091,
            0.05891753248903805,
            0.0315010359076065,
            1.6520385271953075,
            0.31372326851344484,
            1.3246345990002448,
            0.676196438507797,
            0.8080365846111672,
            0.7474766986348909,
            0.1346818408442314,
            0.1209412339212745,
            0.10908982664732765,
            0.46118771838822115,
            1.4850495532199943,
            0.01324347763876702,
            0.06333503236949918,
            0.8926236415359791,
            1.646505529425309,
            0.8793535899839964,
            0.4408113894589136,
            0.12217955117843761,
            1.7140044962293315,
            0.07268459365529593,
            0.40683864254292684,
            0.07119629098162265,
            0.22887929161505932,
        ]
    },
    "divergences.kl_divergence": {
        "logits_p": [2.0000000155878372, 1.0, 0.0],
        "logits_q": [7.005296444631146, 5.998198194523155, 5.0],
    },
    "divergences.lognormal_moment": {
        "gamma": 0.9999999904162996,
        "mean": 0.0,
        "sigma2": 1199.9999999999268,
    },
    "divergences.renyi_divergence": {
        "logits_p": [0.10000000009223685, -0.3, 1.2],
        "logits_q": [0.10099999900000001, -0.3, 1.197423507926101],
        "alpha": 0.999998999999325,
    },
    "estimators.trainer_gradient_weights_seed_code": {
        "log_w": [699.4008284398994, -699.6330057408361],
        "A": [0.9911403330229852, 1.0069314718055995],
        "gamma": 0.4720641825392169,
    },
    "peers.gspo": {
        "log_w": [300.0000203497744, 100.00000000010002],
        "A": -1.499925,
        "clip_ratio_low": 0.0003,
        "clip_ratio_high": 0.0004,
    },
    "peers.gspo_sequence_ratio": {"log_w": [300.0, 300.00037117402286]},
    "peers.sapo": {
        "log_w": 6.364103611653086,
        "A": -3.6876819181177325,
        "tau_pos": 1.0,
        "tau_neg": 1.05,
    },
    "sampling.alpha_entropy_approx": {
        "logits_theta": [8.008, 0.0, 0.0, 0.0],
        "logits_target": [0.0, 0.0, 0.0, 0.0],
    },
    "sampling.delta_alpha": {
        "alpha": 0.5,
        "logits_theta": [0.9913112285501614, -3.90947423505264],
        "logits_target": [-1.2391906301756803, -7.326655190916225],
    },
    "sampling.entropy": {
        "logits": [
            6.1227573641555475,
            -7.666995093942545,
            1.1905802195092916,
            -1.7033088183837894,
            -1.3783170944763075,
            -0.6467914892692976,
            -6.307319548820242,
            -0.6452589705999484,
        ]
    },
    "sampling.kl_q_target": {
        "alpha": 0.5,
        "logits_theta": [0.9913112285501614, -3.90947423505264],
        "logits_target": [-1.2391906301756803, -7.326655190916225],
    },
    "sampling.kl_q_theta": {
        "alpha": 0.5,
        "logits_theta": [0.9913112285501614, -3.9096336918101646],
        "logits_target": [-1.2391906301756803, -7.517942877650995],
    },
    "sampling.kl_symmetry_error": {
        "alpha": 0.9999999927144017,
        "logits_theta": [-5.397302206893699, -0.36942963534385864],
        "logits_target": [-2.0410857110453566, 2.133277118718575],
    },
    "sampling.log_partition": {
        "alpha": 0.9993272494976708,
        "logits_theta": [8.0, 0.0, 0.0],
        "logits_target": [0.0, 0.0, 0.0],
    },
    "sampling.optimal_alpha": {
        "logits_theta": [
            20.44709658947036,
            -1.7903624962041564,
            4.7716012508592645,
            -37.11693146428359,
            -27.387328780815476,
            -2.90438647724814,
            17.475694300281766,
            20.471180996775427,
            4.571650171679273,
            -43.28927723443104,
            10.553301949152079,
            -9.72789213964619,
        ],
        "logits_target": [
            -14.43485337315119,
            9.30126903361347,
            -math.inf,
            -19.32672052938468,
            -math.inf,
            -math.inf,
            21.35013826861585,
            14.71993474599066,
            -11.571086261425751,
            24.500624653210462,
            1.0302038807731644,
            -27.197173586232395,
        ],
    },
    "sampling.optimal_distribution": {
        "logits_theta": [
            10.931023177981393,
            12.911043534659116,
            25.911106853360064,
            -5.2660471135404645,
            31.56490151219893,
            -20.646130270360203,
            10.742465965986494,
            18.507841894950385,
            19.151711621132883,
            -48.62059929093368,
            -30.068924410047135,
            -24.541859047191892,
            -24.604032625073597,
            -30.53259602969925,
            -14.900637560736072,
            -3.4978585992570044,
            21.671392379090815,
            -73.02061917158441,
            -8.518636691116713,
            -26.943100497632805,
            -5.556962230968717,
            -22.975030875590328,
            -52.886402345089955,
            -3.740025456311767,
            16.69942396916781,
            -13.206396506102125,
            -49.17395807782469,
            -64.70505739091848,
            -25.025092657821926,
            -0.59281967642055,
            -16.530301887066948,
            27.65343192243275,
            -5.831781383114524,
            -12.999958113028702,
            -7.825927098978221,
            -15.20902995935014,
            -21.93087851299701,
            14.522443141605674,
            -6.227164437056506,
            33.753052921553135,
            -51.7442015098383,
            9.465649723933044,
            -7.810738255174297,
            -31.080169626677403,
            -15.344193579227344,
            -12.892673793606205,
            -71.26636402619218,
            -8.910293346598609,
            30.571095545868115,
        ],
        "logits_target": [
            0.22935819900220947,
            2.496786286564102,
            13.51844595633781,
            -7.412336438744296,
            -0.4906207183688476,
            -0.6254962793128805,
            6.235282520403882,
            8.465556319242737,
            0.4841321744355397,
            -13.157789734345734,
            -4.883757843189989,
            -12.006994684037544,
            -3.943015732990962,
            4.189582495248691,
            4.243481944109333,
            2.6140324788159064,
            1.18430728559189,
            -5.9210979303748745,
            -1.8323203672849533,
            2.2851767449375298,
            -1.2474385224243707,
            -1.9362625922067287,
            5.6547641921674145,
            -5.836494859884385,
            0.5813039375903443,
            4.8307473780852,
            5.191549505115613,
            -4.992837516309332,
            4.774769508171619,
            1.4710136623450312,
            -4.215475008756812,
            6.9250877262923325,
            2.157063620278105,
            10.68592037362989,
            -11.808095655902179,
            -11.547542158666493,
            -6.522807630118905,
            7.129735088524373,
            7.841318115934231,
            -3.1619122629386407,
            -3.011559409394305,
            7.5322329144465625,
            -1.000993243793779,
            9.638337273344087,
            -2.4324934408578547,
            0.9650952875516222,
            3.717056144689642,
            4.996795687221316,
            -0.43690633777800797,
        ],
    },
    "sampling.pareto_margin": {
        "logits_q": [2.680430491109067, -1.2409494761928932],
        "logits_theta": [3.6741632357577974, -0.893909270876556],
        "logits_target": [2.2236423853242293, 4.857204450943139],
    },
    "sampling.speculative_bias_tv_section_7_7": {
        "logits_proposal": [1.9999999999985474, 1.0, 0.0, -0.9999999999991279],
        "logits_q": [2.0, 0.9994958513065503, -math.inf, -math.inf],
    },
    "sampling.solve_kl_symmetry_seed_code": {
        # nearly equal rows: float64 sign(delta) goes its own way below rounding (0.445 vs 0.5)
        "tol": 1e-06,
        "max_iter": 50,
        "eps": 1e-10,
        "logits_theta": [0.3, -1.0, 2.0000001083293],
        "logits_target": [0.2999999999768877, -1.0000000000803229, 2.00000000016927],
    },
    "trust_region.p_wrong": {"log_w": 26.143370271827493, "A": 5.281029364271262, "tau_c": 1.0},
    "trust_region.phi_gamma": {
        "log_w": 6.499996812908047,
        "A": 2.500000949113324,
        "gamma": 1.0,
        "tau": 1.0,
    },
    "weights.sft_gradient_weight_seed_code": {
        "log_w": -19.999999999999602,
        "gamma": 0.4999970241412912,
        "use_michaelis_menten": True,
        "mm_tau": 1009365.4705921211,
        "log_mu": -0.10008666414337858,
    },
}


def _xfail_params(keys, known):
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=known[k] + "; owner fixing"))
        if k in known
        else k
        for k in keys
    ]


def _generic_test(key, domain_only=False, explicit=None):
    @settings(max_examples=_examples(key), **COMMON)
    @given(copies=fixture_neighbours(key))
    def run(copies):
        spec = SPECS[key]
        check_twin(spec, copies, "float64", domain_only=domain_only)
        check_twin(spec, copies[:1], "float32", domain_only=domain_only)

    return example(copies=[explicit])(run) if explicit else run


@pytest.mark.parametrize("key", _xfail_params(KEYS, KNOWN_NEAR_FIXTURE))
def test_twin_near_fixture_cases(key):
    """(a) and (b) near the fixture cases of every registered function."""
    # a fixed finding keeps its reproducer as a regression example
    _generic_test(key, explicit=REPRODUCERS.get(key))()


KNOWN_DOMAIN: dict[str, str] = {}
DOMAIN_REPRODUCERS: dict[str, dict] = {}


@pytest.mark.parametrize("key", _xfail_params(sorted(KNOWN_NEAR_FIXTURE), KNOWN_DOMAIN))
def test_twin_near_fixture_cases_domain(key):
    """(a) alone for the functions whose accuracy property is a known failure."""
    _generic_test(key, domain_only=True, explicit=DOMAIN_REPRODUCERS.get(key))()


def test_every_spec_is_covered():
    """Every registered function has a fixture to draw from (else the generic test is vacuous)."""
    empty = [k for k in KEYS if not valid_rows(k)]
    assert not empty, f"specs without a valid fixture case: {empty}"


# ---------------------------------------------------------------- gradient weights phi(log_w, A)


def _away_from_subnormal(x: float) -> float:
    return 0.0 if abs(x) < TINY else x


log_w_box = st.floats(-50, 50).map(_away_from_subnormal)
A_box = st.floats(-10, 10).map(_away_from_subnormal)


def _elementwise_phi_keys():
    keys = []
    for key in KEYS:
        spec = SPECS[key]
        if {"log_w", "A"} <= set(spec.tensor_args) and not any(
            isinstance(v, list) for r in valid_rows(key) for v in r.values()
        ):
            keys.append(key)
    return keys


PHI_KEYS = _elementwise_phi_keys()


KNOWN_BOX: dict[str, str] = {}
# fixed findings keep their reproducers as regression examples
BOX_REPRODUCERS = {
    k: REPRODUCERS[k] for k in ("peers.sapo", "trust_region.p_wrong", "trust_region.phi_gamma")
}
_SOFT = {"log_w": 44.79951324902969, "A": -3.850102230686463e-23, "gamma_base": 0.0}
BOX_REPRODUCERS.update(
    {
        "variational.gamma_soft_section_8_2": dict(_SOFT, temperature=5.0),
        "variational.gamma_soft_section_8_2_corrected": dict(_SOFT, temperature=5.0),
        "variational.gamma_soft_section_8_3_corrected": dict(_SOFT, temperature=5.0),
        "variational.marginal_utility_soft": {
            "log_w": -28.908593580277792,
            "A": -2.4474374263610628,
            "temperature": 5.0,
        },
        "weights.sapo_weight": {"log_w": 5.268358467083743, "A": 1.024554287987975, "tau": 1.0},
        # z = -A log w = -87.9: sigma(z) was 19 eps off with z in one word (hypothesis 6.170.27)
        "trust_region.gamma_adaptive": {
            "log_w": 18.595435161295853,
            "A": 4.727440005060098,
            "gamma_base": 0.0,
            "gamma_max": 1.0,
            "tau_c": 1.0,
        },
    }
)


@pytest.mark.parametrize("key", _xfail_params(PHI_KEYS, KNOWN_BOX))
def test_gradient_weight_on_box(key):
    """phi(log_w, A) over log_w in [-50, 50], A in [-10, 10] (the other parameters from a fixture
    case), one call over a vector of points broadcast against 0-d parameters."""
    spec = SPECS[key]

    @settings(max_examples=12, **COMMON)
    @given(
        row=st.sampled_from(valid_rows(key)),
        points=st.lists(st.tuples(log_w_box, A_box), min_size=1, max_size=6),
    )
    def run(row, points):
        _box_property(spec, key, row, points)

    if key in BOX_REPRODUCERS:  # fixed findings keep theirs as regression examples
        r = BOX_REPRODUCERS[key]
        run = example(row=r, points=[(r["log_w"], r["A"])])(run)
    run()


def _box_property(spec, key, row, points):
    if True:
        copies = [dict(row, log_w=lw, A=a) for lw, a in points]
        wants = [reference_value(spec, c) for c in copies]
        if any(w == ERROR for w in wants):
            check_twin(spec, copies, "float64", batchable=False)
            return
        args = {k: v for k, v in row.items()}
        for k in spec.tensor_args:
            args[k] = torch.tensor(row[k], dtype=torch.float64)
        args["log_w"] = torch.tensor([p[0] for p in points], dtype=torch.float64)
        args["A"] = torch.tensor([p[1] for p in points], dtype=torch.float64)
        rtol, atol = tolerance(key, "float64")
        out = twin(spec)(**args)
        assert out.shape == (len(points),), f"{key}: shape {tuple(out.shape)}"
        _check_output(spec, out, args, copies, sum(wants, []), torch.float64, rtol, atol)
        check_twin(spec, copies[:1], "float32")


# ---------------------------------------------------------------- Kish ESS and PSIS k-hat


@st.composite
def log_weight_samples(draw, min_size=1, max_size=60):
    """Sample vectors: raw hypothesis floats, or seeded draws from normal / Student-t /
    log-uniform log-weights (heavy and light tails), optionally masked."""
    kind = draw(st.sampled_from(["raw", "normal", "student", "uniform"]))
    n = draw(st.integers(min_size, max_size))
    if kind == "raw":
        lw = draw(st.lists(st.floats(-700, 700).map(_away_from_subnormal), min_size=n, max_size=n))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        scale = draw(st.floats(1e-3, 20))
        shift = draw(st.floats(-300, 300))
        base = {
            "normal": rng.standard_normal(n),
            "student": rng.standard_t(draw(st.floats(0.5, 10)), n),
            "uniform": np.log(rng.uniform(size=n)),
        }[kind]
        lw = [_away_from_subnormal(float(x)) for x in shift + scale * base]
        lw = [min(max(x, -1e4), 1e4) for x in lw]
    mask = None
    if draw(st.booleans()):
        mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return lw, mask


def _check_sample_fn(key, lw, mask):
    spec = SPECS[key]
    check_twin(spec, [{"log_w": lw, "mask": mask}], "float64")


@settings(max_examples=60, **COMMON)
@given(sample=log_weight_samples())
def test_kish_on_samples(sample):
    lw, mask = sample
    _check_sample_fn("diagnostics.kish_ess", lw, mask)
    _check_sample_fn("diagnostics.kish_ess_ratio", lw, mask)
    spec = SPECS["diagnostics.kish_ess_ratio"]
    want = reference_value(spec, {"log_w": lw, "mask": mask})
    if want == ERROR:
        return
    rtol, atol = tolerance(spec.key, "float64")
    got = flatten(torch.as_tensor(rdiag.kish_ess_ratio_np(lw, mask)))
    bad, _ = compare(got, want, rtol, atol, ["kish_ess_ratio_np"])
    assert not bad, "\n".join([f"kish_ess_ratio_np at {lw}, mask {mask}:"] + bad)
    n = len(lw) if mask is None else sum(mask)
    assert 1 / n * (1 - 1e-14) <= got[0] <= 1 + 1e-14


@pytest.mark.xfail(
    strict=True,
    reason="psis_khat_np on a 71-draw student-t sample: got -0.19798836447405826, want "
    "-0.19798836447405724 (23 eps f64, table 16 of diagnostics.psis_khat); owner fixing",
)
@settings(max_examples=20, **COMMON)
@given(sample=log_weight_samples(min_size=15, max_size=80))
def test_psis_khat_on_samples(sample):
    lw, mask = sample
    _check_sample_fn("diagnostics.psis_khat", lw, mask)
    spec = SPECS["diagnostics.psis_khat"]
    want = reference_value(spec, {"log_w": lw, "mask": mask})
    if want == ERROR:
        with pytest.raises(ValueError):
            rdiag.psis_khat_np(lw, mask)
        return
    rtol, atol = tolerance(spec.key, "float64")
    bad, _ = compare([float(rdiag.psis_khat_np(lw, mask))], want, rtol, atol, ["psis_khat_np"])
    assert not bad, "\n".join([f"psis_khat_np at {lw}, mask {mask}:"] + bad)


# ---------------------------------------------------------------- alpha* on random logits pairs


@st.composite
def logits_pairs(draw, max_rows=2):
    """[B, V] logits pairs, V in [2, 50]: independent rows, a target near theta, or rows with
    -inf entries (partial supports)."""
    v = draw(st.integers(2, 50))
    b = draw(st.integers(1, max_rows))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["independent", "independent", "nearby", "partial support"]))
    spread = draw(st.floats(0.1, 30))
    theta = spread * rng.standard_normal((b, v))
    if kind == "nearby":
        target = theta + 10.0 ** draw(st.integers(-6, 0)) * rng.standard_normal((b, v))
    else:
        target = draw(st.floats(0.1, 30)) * rng.standard_normal((b, v))
    if kind == "partial support":
        theta[rng.uniform(size=(b, v)) < 0.2] = -math.inf
        target[rng.uniform(size=(b, v)) < 0.2] = -math.inf
    return theta.tolist(), target.tolist()


ALPHA_KEYS = [
    "sampling.optimal_alpha",
    "sampling.optimal_distribution",
    "sampling.alpha_entropy_approx",
]


KNOWN_ALPHA = {
    k: KNOWN_NEAR_FIXTURE[k] for k in ("sampling.optimal_alpha", "sampling.optimal_distribution")
}
ALPHA_REPRODUCERS = {
    "sampling.alpha_entropy_approx": (
        [
            [
                -math.inf,
                -40.29142017030246,
                -27.83343159735487,
                -36.93290421376281,
                3.048786180173728,
            ]
        ],
        [
            [
                -7.589257101702205,
                4.711412931003873,
                -4.551818611224259,
                12.906437470631689,
                -math.inf,
            ]
        ],
    ),
}
for _k in ("sampling.optimal_alpha", "sampling.optimal_distribution"):
    ALPHA_REPRODUCERS[_k] = (
        [REPRODUCERS[_k]["logits_theta"]],
        [REPRODUCERS[_k]["logits_target"]],
    )


def _alpha_test(key, domain_only=False):
    spec = SPECS[key]

    @settings(max_examples=30, **COMMON)
    @given(pair=logits_pairs())
    def run(pair):
        theta, target = pair
        copies = [{"logits_theta": t, "logits_target": g} for t, g in zip(theta, target)]
        check_twin(spec, copies, "float64", domain_only=domain_only)
        check_twin(spec, copies[:1], "float32", domain_only=domain_only)

    if not domain_only and key in ALPHA_REPRODUCERS:
        run = example(pair=ALPHA_REPRODUCERS[key])(run)
    return run


@pytest.mark.parametrize("key", _xfail_params(ALPHA_KEYS, KNOWN_ALPHA))
def test_alpha_star_on_random_logits(key):
    _alpha_test(key)()


# fixed findings of sampling.alpha_entropy_approx, kept as regressions: (a) both entropies
# below the float range (neither row one-hot) gave the both-one-hot value 1/2; (b) H(pi_theta)
# of a nearly one-hot row from log_softmax lost 7.8e-5 relative (see ALPHA_REPRODUCERS)
ENTROPY_UNDERFLOW = {
    "logits_theta": [-10854.432114622496, 10381.46708456578, 0.0],
    "logits_target": [10000.000000004611, -9999.999999994541, 0.0],
}


def test_alpha_entropy_approx_underflowing_entropies():
    """Rows whose entropies underflow (H ~ e^-10381, e^-10000) keep their ratio
    2.2243713004291037e-166 (the reference, one-hot decided by the distribution)."""
    spec = SPECS["sampling.alpha_entropy_approx"]
    check_twin(spec, [ENTROPY_UNDERFLOW], "float64")
    want = reference_value(spec, ENTROPY_UNDERFLOW)
    assert abs(want[0] / 2.2243713004291037e-166 - 1) < 1e-15, want


@pytest.mark.parametrize("key", sorted(KNOWN_ALPHA))
def test_alpha_star_on_random_logits_domain(key):
    _alpha_test(key, domain_only=True)()


@pytest.mark.xfail(
    strict=True,
    reason="two random rows of V = 30: row 1 got 0.49864039450174225, want 0.4986403945017286 "
    "(123 eps f64, table 16 of sampling.optimal_alpha); owner fixing",
)
@settings(max_examples=30, **COMMON)
@given(pair=logits_pairs())
def test_optimal_alpha_np_on_random_logits(pair):
    spec = SPECS["sampling.optimal_alpha"]
    theta, target = pair
    wants = [reference_value(spec, {"logits_theta": t, "logits_target": g}) for t, g in zip(*pair)]
    if ERROR in wants:
        for t, g, w in zip(theta, target, wants):
            if w == ERROR:
                with pytest.raises(ValueError):
                    rsamp.optimal_alpha_np(t, g)
        return
    rtol, atol = tolerance(spec.key, "float64")
    got = [float(x) for x in np.ravel(rsamp.optimal_alpha_np(theta, target))]
    bad, _ = compare(got, sum(wants, []), rtol, atol, [f"row {i}" for i in range(len(got))])
    assert not bad, "\n".join([f"optimal_alpha_np at {theta}, {target}:"] + bad)


# ---------------------------------------------------------------- the other NumPy companions


def _np_call(name: str, inputs: dict):
    if name == "kish_ess_ratio_np":
        return rdiag.kish_ess_ratio_np(inputs["log_w"], inputs.get("mask"))
    if name == "psis_khat_np":
        return rdiag.psis_khat_np(inputs["log_w"], inputs.get("mask"))
    if name == "optimal_alpha_np":
        return rsamp.optimal_alpha_np(inputs["logits_theta"], inputs["logits_target"])
    if name == "solve_kl_symmetry_seed_code_np":
        p = [_softmax(inputs["logits_theta"]), _softmax(inputs["logits_target"])]
        return rsamp.solve_kl_symmetry_seed_code_np(*p, inputs["tol"], inputs["max_iter"])[0]
    if name == "trust_region_weight_np":
        return rtr.trust_region_weight_np(inputs["log_w"], inputs["tau"])
    if name == "g_adaptive_np":
        keys = ("log_w", "A", "gamma_base", "gamma_max", "tau_h", "tau_c")
        return rtr.g_adaptive_np(*(inputs[k] for k in keys))
    if name == "marginal_utility_section_2_3_np":
        return rvar.marginal_utility_section_2_3_np(inputs["log_w"], inputs["A"])
    if name == "gamma_star_exact_np":
        return rvar.gamma_star_exact_np(inputs["log_w"], inputs["A"], inputs["lam"])
    raise KeyError(name)


def _softmax(logits):
    x = np.asarray(logits, dtype=np.float64)
    return np.exp(x - np.logaddexp.reduce(x))


# companion -> the registered mpmath function it accompanies (its tolerance entry applies)
NP_COMPANIONS = {
    "kish_ess_ratio_np": "diagnostics.kish_ess_ratio",
    "psis_khat_np": "diagnostics.psis_khat",
    "optimal_alpha_np": "sampling.optimal_alpha",
    "solve_kl_symmetry_seed_code_np": "sampling.solve_kl_symmetry_seed_code",
    "trust_region_weight_np": "trust_region.trust_region_weight",
    "g_adaptive_np": "trust_region.g_adaptive",
    "marginal_utility_section_2_3_np": "variational.marginal_utility_section_2_3",
    "gamma_star_exact_np": "variational.gamma_star_exact",
}

# the companions take no argument checks ("no argument checks" in their docstrings), and the
# seed-code one hard-codes eps = 1e-10: only inputs of the mpmath domain (and that eps) apply
NP_SKIP_ROW = {
    "solve_kl_symmetry_seed_code_np": lambda r: r.get("eps", 1e-10) != 1e-10,
}


def test_np_companions_are_all_listed():
    found = set()
    for module in {k.split(".")[0] for k in KEYS}:
        mod = importlib.import_module(f"isreshape.reference.{module}")
        found |= {
            n
            for n, f in vars(mod).items()
            if n.endswith("_np")
            and not n.startswith("_")
            and callable(f)
            and getattr(f, "__module__", "") == mod.__name__
        }
    assert found == set(NP_COMPANIONS), found ^ set(NP_COMPANIONS)


KNOWN_NP: dict[str, str] = {
    "psis_khat_np": "k-hat near 0 (100 draws, log_w in [0, 1.91], the neighbourhood of the torch "
    "twin's finding above): got -0.04431225533813429, want -0.04431225533813452 (23 eps f64, "
    "table 16); drawn by hypothesis 6.170.27",
}
# the failing example of each known finding, replayed first (see REPRODUCERS)
NP_REPRODUCERS = {
    "psis_khat_np": {
        "log_w": [
            0.11259366741626425,
            0.051702379338475615,
            0.0315010359076065,
            0.011194289054624268,
            0.78923481167395,
            0.0832158818174895,
            0.18222213628948747,
            0.13139297473743913,
            0.05891753248903657,
            0.7338987351096439,
            1.7699708300334471,
            1.098882005098849,
            0.1518627227787346,
            0.1587095991495479,
            0.07119629098162632,
            0.6545653527836831,
            0.0698059996526451,
            0.9294237777041972,
            0.06333503236949285,
            1.9107183083882546,
            0.17401552932875378,
            0.22964282600295247,
            0.15071554187081096,
            1.0361536932315132,
            0.8049177940770247,
            0.3287916241431814,
            0.01324347763876702,
            0.30002874748255404,
            0.32546819089796863,
            0.13468184084421794,
            0.07994542115138062,
            0.1383669982990788,
            0.8768685396279681,
            0.4483699673426203,
            0.031651434377305505,
            0.18924728191208573,
            0.5665698024210432,
            0.3698264835979874,
            0.44081138945888787,
            0.31372326851343507,
            1.5475181098108395,
            0.023549310558670846,
            0.46118771838822964,
            0.5232501135550767,
            0.11506727950324745,
            0.5699338853513287,
            0.24586169405142488,
            0.10908982664731878,
            0.5735390231656766,
            1.6520385271954285,
            0.30405945762663017,
            0.33539466223617936,
            0.12217955117843761,
            0.002293637731109296,
            0.14356556779006666,
            1.1421281169428472,
            0.11877598666619356,
            0.13624955012168313,
            0.20495195856434315,
            0.10834158255744054,
            0.019816584242424298,
            0.8080365846111672,
            1.4850495532199741,
            0.8178587738285695,
            0.17902641200403951,
            0.4007573874380355,
            0.3990188261096548,
            0.14361981448966737,
            1.3246345990002448,
            0.17350397640336357,
            1.782633063326632,
            0.12094123392128331,
            1.4259612643315833,
            0.22887929161505932,
            0.662198807318757,
            0.25697149306090183,
            0.012646592393358736,
            0.4068386425429419,
            0.02408043403967845,
            0.14718921530086135,
            0.7474766986349559,
            0.1045980129449646,
            0.3368086642700574,
            1.1732194211684441,
            0.6529618235520429,
            0.8926236415359791,
            0.05534380410190101,
            0.2900267004231295,
            0.1787233526207821,
            1.2233737979923376,
            0.8793535899839544,
            0.31278939589659205,
            1.5944227617614566,
            0.21518230143145609,
            0.07268459365529593,
            1.6465055294251902,
            0.67619643850784,
            1.7140044962294703,
            1.0626512448694454,
            0.03395398166084456
        ]
    },
}


def _seed_logs(logits, eps=1e-10):
    """log(softmax(logits) + eps), the seed's logs, in mpmath."""
    eps = mpmath.mpf(eps)
    lse = mpmath.log(mpmath.fsum(mpmath.exp(x) for x in logits if x != -math.inf))
    return [
        mpmath.log(mpmath.exp(x - lse) + eps) if x != -math.inf else mpmath.log(eps) for x in logits
    ]


def _seed_delta_below_rounding(
    inputs: dict, r_np: float, r_ref: float, unit: float = 2.0**-52
) -> bool:
    """Whether the seed's floating-point bisection may legitimately leave the exact one: at the
    first midpoint where the two paths branch apart, |delta| (exact, mpmath) is below rounding
    of a sum of O(|log(pi + eps)|) terms (64 units ``unit`` of the largest |log|)."""
    lo, hi = 0.0, 1.0
    eps = inputs.get("eps", 1e-10)
    with mpmath.workdps(DPS):
        lp = [_seed_logs(inputs["logits_theta"], eps), _seed_logs(inputs["logits_target"], eps)]
        scale = max(abs(x) for row in lp for x in row)
        for _ in range(inputs["max_iter"]):
            mid = (lo + hi) / 2
            if (r_np > mid) != (r_ref > mid):
                s = [mid * a + (1 - mid) * b for a, b in zip(*lp)]
                c = max(s)
                e = [mpmath.exp(v - c) for v in s]
                delta = mpmath.fsum(w * (b - a) for w, a, b in zip(e, *lp)) / mpmath.fsum(e)
                return abs(delta) <= 64 * unit * scale
            lo, hi = (mid, hi) if r_ref > mid else (lo, mid)
    return False


@pytest.mark.parametrize("name", _xfail_params(sorted(NP_COMPANIONS), KNOWN_NP))
def test_np_companion_near_fixture_cases(name):
    key = NP_COMPANIONS[name]
    spec = SPECS[key]
    skip = NP_SKIP_ROW.get(name, lambda r: False)

    @settings(max_examples=_examples(key), **COMMON)
    @given(copies=fixture_neighbours(key, max_copies=1))
    def run(copies):
        (inputs,) = copies
        if skip(inputs):
            return
        want = reference_value(spec, inputs)
        if want == ERROR:
            return  # the companions have no argument checks (documented)
        with np.errstate(all="ignore"):
            got = [float(x) for x in np.ravel(_np_call(name, inputs))]
        rtol, atol = tolerance(key, "float64")
        if name == "solve_kl_symmetry_seed_code_np" and got[0] != want[0]:
            # the seed's float64 code branches on sign(delta); where |delta| is below rounding
            # (nearly identical rows) it may go the other way than the exact-arithmetic reference
            assert _seed_delta_below_rounding(inputs, got[0], want[0]), (name, inputs, got, want)
            return
        bad, _ = compare(got, want, rtol, atol, [f"[{i}]" for i in range(len(got))])
        assert not bad, "\n".join([f"{name} at {inputs}:"] + bad)

    if name in NP_REPRODUCERS:
        run = example(copies=[NP_REPRODUCERS[name]])(run)
    run()
