"""The committed fixtures are what the reference generates (fast subset; full under slow)."""

import pytest

from isreshape.reference.golden import check_all


def test_golden_check_fast_subset(capsys):
    problems = check_all(fast_only=True)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_golden_check_full():
    problems = check_all(fast_only=False)
    assert not problems, "\n".join(problems)
