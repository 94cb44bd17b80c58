"""Fixture values are rounded on the exact binary value, ties to even, so that every mpmath
version writes the same bytes (mpmath 1.3's nstr breaks exact ties upward, 1.4's to even)."""

from __future__ import annotations

from decimal import Decimal

import mpmath
import numpy as np

from isreshape.reference.golden import encode_value


def test_exact_decimal_tie_rounds_to_even():
    # float32(1e-6) = 9.999999974752427078783512115478515625e-7 exactly: 37 digits, a tie at 36
    x = mpmath.mpf(float(np.float32(1e-6)))
    assert Decimal(float(x)) == Decimal("9.999999974752427078783512115478515625E-7")
    assert encode_value(x) == "9.99999997475242707878351211547851562e-7"
    assert encode_value(-x) == "-9.99999997475242707878351211547851562e-7"
    # 1 + 2^-23 = 1.00000011920928955078125: a tie at 23 digits, the even 2 stays
    y = mpmath.mpf(1) + mpmath.mpf(2) ** -23
    assert encode_value(y, digits=23) == "1.0000001192092895507812"
    assert encode_value(mpmath.mpf("1.25"), digits=2) == "1.2"
    assert encode_value(mpmath.mpf("1.75"), digits=2) == "1.8"


def test_non_ties_match_mpmath_nstr():
    with mpmath.workdps(60):
        for v in (mpmath.pi, -mpmath.e * 1e-250, mpmath.sqrt(2) * 1e300, mpmath.mpf(1) / 3):
            assert encode_value(v) == mpmath.nstr(v, 36, min_fixed=1, max_fixed=0)


def test_huge_exponents_do_not_expand():
    with mpmath.workdps(50):
        tiny = mpmath.exp(-mpmath.mpf(10) ** 10)  # binary exponent ~ -1.4e10
        assert encode_value(tiny) == mpmath.nstr(tiny, 36, min_fixed=1, max_fixed=0)
    assert encode_value(0.0) == "0.0" and encode_value(float("-inf")) == "-inf"
