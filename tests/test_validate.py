"""The argument checks: a Python number is judged in plain Python (so torch.compile folds it on
every supported torch), and that judgement must equal the tensor judgement of the same value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import isreshape.torch_impl._validate as tval

VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, -1e-300, 2.0, math.inf, -math.inf, math.nan, 0, 1, 3]
RANGES = [
    dict(lo=0),
    dict(lo=0, lo_open=True),
    dict(lo=0, hi=1),
    dict(lo=0, hi=1, lo_open=True, hi_open=True),
    dict(hi=1, hi_open=True),
    dict(),
]


def _raises(check, x) -> bool:
    try:
        check(x)
    except ValueError as e:
        assert "'arg'" in repr(e) or "arg must be" in str(e), e
        return True
    return False


@pytest.mark.parametrize("kw", RANGES, ids=str)
def test_scalar_range_check_equals_tensor_check(kw):
    for v in VALUES:

        def check(x):
            return tval.check_range("arg", x, **kw)

        want = _raises(check, torch.tensor(float(v), dtype=torch.float64))
        assert _raises(check, v) == want, (v, kw)
        v32 = np.float32(v)  # NumPy values take the tensor route
        assert _raises(check, v32) == _raises(check, torch.tensor(float(v32))), (v, kw)


def test_scalar_finite_and_not_nan_equal_tensor_checks():
    for v in VALUES:
        for fn in (tval.check_finite, tval.check_not_nan):

            def check(x, fn=fn):
                return fn("arg", x)

            want = _raises(check, torch.tensor(float(v), dtype=torch.float64))
            assert _raises(check, v) == want, (v, fn.__name__)
    # the expected answers themselves, so a check that never raises cannot pass
    assert [
        _raises(lambda x: tval.check_finite("arg", x), v) for v in (1.0, math.inf, math.nan)
    ] == [
        False,
        True,
        True,
    ]
    assert _raises(lambda x: tval.check_range("arg", x, lo=0), -1e-300)
    assert not _raises(lambda x: tval.check_range("arg", x, lo=0), 0)


def test_sequence_argument_is_checked_elementwise():
    assert _raises(lambda x: tval.check_range("arg", x, lo=0), [1.0, -1.0])
    assert not _raises(lambda x: tval.check_range("arg", x, lo=0), [1.0, 2.0])


@pytest.mark.slow
def test_argument_checks_do_not_break_a_fullgraph_compile():
    """Under torch.compile the checks are skipped (torch 2.4's dynamo cannot take bool of a
    traced tensor, torch >= 2.5 traces a Python float symbolically): CI's minimum and newest
    environments each failed fullgraph tests on one of the two. The eager call still raises."""
    from isreshape.torch_impl import weights as tw

    lw = torch.linspace(-3, 3, 7, dtype=torch.float64)
    A = torch.ones_like(lw)
    torch._dynamo.reset()
    compiled = torch.compile(tw.gradient_weight_design, fullgraph=True)
    for lam in (1.0, 0.5):
        got = compiled(lw, A, 0.5, 1.5, True, 3.0, lam)
        assert torch.allclose(got, tw.gradient_weight_design(lw, A, 0.5, 1.5, True, 3.0, lam))
    with pytest.raises(ValueError, match="saturation_lambda must be in"):
        tw.gradient_weight_design(lw, A, 0.5, 1.5, True, 3.0, -1.0)
