"""Certified enclosures of alpha* (reference/certified.py) and the fixture rows that carry them.

An enclosure is a proof: interval arithmetic shows Delta(lo) > 0 > Delta(hi), and Delta is
strictly decreasing. These tests re-check stored certificates from their decimals, show that a
bracket around a wrong root fails its certificate, and hold the float64 solvers inside.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import torch
from mpmath import iv

from isreshape.reference import certified as C
from isreshape.reference import golden as G
from isreshape.reference import sampling as ref
from isreshape.torch_impl import sampling as ts

FIXTURE = G.load_fixture("sampling", "optimal_alpha")
ROWS = [r for r in FIXTURE["cases"] if r.get("enclosure")]
EPS64 = 2.0**-52


def _inputs(row):
    return {k: G.decode_input(v) for k, v in row["inputs"].items()}


def _signs_at(row, points):
    """Signs of Delta at decimal ``points`` for the row's inputs, by interval arithmetic (the
    precision rises until every sign is decided: the near-disjoint row needs ~2300 digits)."""
    inp = _inputs(row)
    saved = iv.prec
    try:
        for dps in (120, 600, 3000, 8000):
            iv.dps = dps
            lt = C._interval_log_probs([C._interval(v) for v in inp["logits_theta"]])
            lg = C._interval_log_probs([C._interval(v) for v in inp["logits_target"]])
            keep = [i for i, (a, b) in enumerate(zip(lt, lg)) if a is not None and b is not None]
            lt, lg = [lt[i] for i in keep], [lg[i] for i in keep]
            with mpmath.workdps(dps):  # decimal points enclosed as spelled (iv.mpf of a str)
                signs = [
                    C._sign_g(lt, lg, p if isinstance(p, str) else mpmath.mpf(p)) for p in points
                ]
            if 0 not in signs:
                return signs
        return signs
    finally:
        iv.prec = saved


def test_every_interior_root_is_enclosed():
    """A row carries an enclosure exactly when its alpha* is a root strictly inside (0, 1);
    convention rows (an endpoint, constant d: the certifier declines) and error rows carry
    none, row by row."""
    assert len(ROWS) == 14
    for r in FIXTURE["cases"]:
        if isinstance(r["expected"], dict):
            assert r.get("enclosure") is None, r["note"]
            continue
        try:
            C.optimal_alpha_enclosure(**_inputs(r))
            interior = True
        except C.NoInteriorRoot:
            interior = False
        assert (r.get("enclosure") is not None) == interior, r["note"]
        if not interior:  # an endpoint or 1/2 by convention
            assert mpmath.mpf(r["expected"]) in (0, 1, mpmath.mpf(1) / 2), r["note"]


@pytest.mark.parametrize("row", ROWS, ids=[r["note"] for r in ROWS])
def test_stored_certificate_rechecks_and_holds_the_reference(row):
    lo_s, hi_s = row["enclosure"]
    with mpmath.workdps(80):
        lo, hi, value = mpmath.mpf(lo_s), mpmath.mpf(hi_s), mpmath.mpf(row["expected"])
        assert 0 < hi - lo <= mpmath.mpf("1e-40")
        # the reference's 36 stored digits: within one unit of the last of them
        slack = abs(value) * mpmath.mpf(10) ** (1 - G.STORED_DIGITS)
        assert lo - slack <= value <= hi + slack
    # the certificate itself, from the stored decimals: Delta(lo) > 0 > Delta(hi)
    assert _signs_at(row, [lo_s, hi_s]) == [1, -1]


@pytest.mark.parametrize("row", ROWS[:4] + ROWS[-3:], ids=[r["note"] for r in ROWS[:4] + ROWS[-3:]])
def test_a_wrong_root_fails_the_certificate(row):
    """A bracket shifted past the root by 1e-38 (100x the enclosure width) has the same sign of
    Delta at both ends: its certificate fails, and the stored enclosure excludes that value."""
    inp = _inputs(row)
    with mpmath.workdps(80):
        lo, hi = (mpmath.mpf(v) for v in row["enclosure"])
        for shift in (mpmath.mpf("1e-38"), -mpmath.mpf("1e-38")):
            wrong = (lo + hi) / 2 + shift
            assert not (lo <= wrong <= hi)
            signs = _signs_at(row, [wrong - mpmath.mpf("2.5e-41"), wrong + mpmath.mpf("2.5e-41")])
            assert signs == ([-1, -1] if shift > 0 else [1, 1]), (shift, signs)
        # a wrong candidate only costs time: the certifier falls back to bisection
        got = C.optimal_alpha_enclosure(**inp, candidate=(lo + hi) / 2 + mpmath.mpf("1e-30"))
        assert got[0] <= (lo + hi) / 2 <= got[1]


@pytest.mark.parametrize("row", ROWS, ids=[r["note"] for r in ROWS])
def test_float64_solvers_lie_inside_the_enclosure(row):
    """torch (float64) and NumPy alpha* within 16 eps of the certified interval (the fixture
    tolerance's default, DEFAULT["float64"] in tests/tolerances.py)."""
    inp = _inputs(row)
    lo, hi = (float(mpmath.mpf(v)) for v in row["enclosure"])
    tol = 16 * EPS64 * max(abs(lo), abs(hi))
    th = torch.tensor(inp["logits_theta"], dtype=torch.float64)
    tg = torch.tensor(inp["logits_target"], dtype=torch.float64)
    got_t = float(ts.optimal_alpha(th, tg))
    got_np = float(
        ref.optimal_alpha_np(np.array(inp["logits_theta"]), np.array(inp["logits_target"]))
    )
    for got in (got_t, got_np):
        assert lo - tol <= got <= hi + tol, (got, lo, hi)


def test_enclosure_agrees_with_bisection_alone():
    """The candidate path (Newton, then a bracket) and pure certified bisection agree."""
    x, y = [0.1, 0.2, 0.7, -1.3], [0.3, -0.5, 0.1, 2.0]
    a = C.optimal_alpha_enclosure(x, y)
    b = C.optimal_alpha_enclosure(x, y, candidate=None)
    assert max(a[0], b[0]) <= min(a[1], b[1])  # the intervals overlap
    assert b[1] - b[0] <= mpmath.mpf("1e-40")


def test_outward_rounding_keeps_the_interval():
    with mpmath.workdps(100):
        third = mpmath.mpf(1) / 3
        down, up = G._outward(third, up=False), G._outward(third, up=True)
        assert mpmath.mpf(down) < third < mpmath.mpf(up)
        assert len(down.replace("0.", "")) == G.ENCLOSURE_DIGITS
        half = mpmath.mpf(1) / 2
        assert G._outward(half, up=False) == G._outward(half, up=True) == "0.5"


def test_inputs_are_taken_exactly():
    """A 60-digit mpf keeps its digits (mpmath.mpf(x) would round it to 15 and the certificate
    would be for other inputs); rows that differ by 1e-22 are not 'constant d' (decided on the
    exact inputs), rows that differ by an exact decimal constant are."""
    from isreshape.reference import sampling as S

    with mpmath.workdps(60):
        x = [mpmath.mpf(0), mpmath.mpf(1) / 3]
        y = [mpmath.mpf(2) / 7, mpmath.mpf(-1)]
        lo, hi = C.optimal_alpha_enclosure(x, y)
        with mpmath.workdps(90):
            root = S.optimal_alpha(x, y)
        assert lo <= root <= hi and hi - lo <= mpmath.mpf("1e-40")
    lo, hi = C.optimal_alpha_enclosure(["0", "0.1000000000000000000001"], ["0", "0.1"])
    assert lo < mpmath.mpf("0.5") + mpmath.mpf("1e-10") and hi > mpmath.mpf("0.5") - mpmath.mpf(
        "1e-10"
    )
    with pytest.raises(C.NoInteriorRoot, match="constant"):
        C.optimal_alpha_enclosure(["0.1", "0.2"], ["1.1", "1.2"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="width"):
        C.optimal_alpha_enclosure([0.0, 1.0], [1.0, 0.0], width=0)
    with pytest.raises(C.NoInteriorRoot, match="no root strictly inside"):
        C.optimal_alpha_enclosure([0.3, -1.0, 2.0], [0.3, -1.0, 2.0])  # identical
    with pytest.raises(C.NoInteriorRoot, match="no root strictly inside"):
        C.optimal_alpha_enclosure([0.0, 1.0, 0.5], [1.0, float("-inf"), 0.0])  # endpoint
    with pytest.raises(ValueError, match="disjoint"):
        C.optimal_alpha_enclosure([0.0, float("-inf")], [float("-inf"), 0.0])
    with pytest.raises(ValueError, match="NaN"):
        C.optimal_alpha_enclosure([0.0, float("nan")], [0.0, 1.0])
    x = [0.1, 0.2]
    C.optimal_alpha_enclosure(x, [0.3, -0.5])
    assert x == [0.1, 0.2]
