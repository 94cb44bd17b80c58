"""Hypothesis: the torch twins agree with the mpmath reference on random inputs."""

from __future__ import annotations

import math

import mpmath
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import isreshape.torch_impl.diagnostics as tdiag
import isreshape.torch_impl.divergences as tdiv
import isreshape.torch_impl.gamma as tgamma
from isreshape.reference.diagnostics import kish_ess_ratio, kish_ess_ratio_np
from isreshape.reference.divergences import ess_ratio_lognormal_closed_form
from isreshape.reference.gamma import gamma_star_ess

finite = st.floats(-700, 700, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=40))
def test_kish_ratio_matches_reference(log_w):
    with mpmath.workdps(30):
        want = float(kish_ess_ratio(log_w))
    got = float(tdiag.kish_ess_ratio(torch.tensor(log_w, dtype=torch.float64)))
    assert math.isclose(got, want, rel_tol=1e-13), (got, want)
    assert math.isclose(float(kish_ess_ratio_np(log_w)), want, rel_tol=1e-13)
    assert 1 / len(log_w) - 1e-15 <= got <= 1 + 1e-15


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1e6), st.floats(1e-300, 1.0, exclude_min=False))
def test_gamma_star_matches_reference(sigma2, rho_min):
    with mpmath.workdps(30):
        want = float(gamma_star_ess(sigma2, rho_min))
    got = float(tgamma.gamma_star_ess(torch.tensor(sigma2, dtype=torch.float64), rho_min))
    assert math.isclose(got, want, rel_tol=1e-14, abs_tol=1e-300), (got, want)
    assert 0 <= got <= 1


@settings(max_examples=300, deadline=None)
@given(st.floats(-30, 30), st.floats(0, 100))
def test_ess_closed_form_matches_reference(gamma, sigma2):
    with mpmath.workdps(30):
        want = float(ess_ratio_lognormal_closed_form(gamma, sigma2))
    got = float(
        tdiv.ess_ratio_lognormal_closed_form(torch.tensor(gamma, dtype=torch.float64), sigma2)
    )
    assert math.isclose(got, want, rel_tol=1e-11, abs_tol=1e-300), (got, want)


def test_inputs_are_not_modified_and_errors_name_the_argument():
    lw = torch.tensor([0.0, 1.0, 2.0])
    before = lw.clone()
    tdiag.kish_ess_ratio(lw)
    assert torch.equal(lw, before)
    try:
        tgamma.gamma_star_ess(1.0, 1.5)
    except ValueError as exc:
        assert "rho_min" in str(exc) and "1.5" in str(exc)
    else:
        raise AssertionError("rho_min = 1.5 was accepted")
