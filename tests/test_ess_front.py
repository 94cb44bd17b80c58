"""The corrected ESS Pareto front of seed 004 section 5.1 (claim 004-5.1-a is FALSE):
q_b ∝ sqrt(b pi_theta^2 + (1 - b) pi_t^2) is not dominated in the two ESS channels, and a
front member dominates the geometric family's q*."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from isreshape.reference.sampling import (
    ess_front_distribution,
    ess_section_4_5,
    geometric_distribution,
    optimal_alpha,
)


def _ess_pair(lt, lq, q):
    log_q = [float(mpmath.log(x)) if x > 0 else float("-inf") for x in q]
    return float(ess_section_4_5(lt, log_q)), float(ess_section_4_5(lq, log_q))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_front_member_is_not_dominated_by_random_distributions(seed):
    rng = np.random.default_rng(seed)
    lt = list(3 * rng.standard_normal(5))
    lq = list(3 * rng.standard_normal(5))
    with mpmath.workdps(30):
        front = [_ess_pair(lt, lq, ess_front_distribution(lt, lq, b)) for b in (0.2, 0.5, 0.8)]
        for _ in range(300):
            q = rng.dirichlet(np.full(5, 0.7))
            e = _ess_pair(lt, lq, [mpmath.mpf(float(x)) for x in q])
            for f in front:
                assert not (e[0] > f[0] * (1 + 1e-12) and e[1] > f[1] * (1 + 1e-12)), (e, f)


def test_a_front_member_dominates_the_geometric_q_star():
    rng = np.random.default_rng(0)
    lt = list(3 * rng.standard_normal(6))
    lq = list(3 * rng.standard_normal(6))
    with mpmath.workdps(30):
        star = _ess_pair(lt, lq, geometric_distribution(lt, lq, optimal_alpha(lt, lq)))
        dominated = False
        for b in np.linspace(0, 1, 401):
            f = _ess_pair(lt, lq, ess_front_distribution(lt, lq, float(b)))
            if f[0] > star[0] and f[1] > star[1]:
                dominated = True
                break
    assert dominated, star


def test_front_endpoints_and_normalisation():
    lt, lq = [0.0, 1.0, -2.0], [1.5, -1.0, 0.0]
    with mpmath.workdps(40):
        sm = lambda v: [mpmath.exp(x) / mpmath.fsum(mpmath.exp(y) for y in v) for x in v]  # noqa: E731
        assert all(abs(a - b) < 1e-35 for a, b in zip(ess_front_distribution(lt, lq, 1), sm(lt)))
        assert all(abs(a - b) < 1e-35 for a, b in zip(ess_front_distribution(lt, lq, 0), sm(lq)))
        assert abs(mpmath.fsum(ess_front_distribution(lt, lq, 0.37)) - 1) < 1e-35
