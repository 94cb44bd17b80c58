import json

import pytest

from isreshape.reference import golden
from isreshape.reference.golden import check_all

# The README command's fixture check: every file, every edge / seed / extreme row and one in
# QUICK_STRIDE grid and seeded-random rows (about a quarter of the fast rows), and every header;
# `isreshape golden --check --full` (opt-in, ISRESHAPE_SLOW=1) checks every row.
QUICK_STRIDE = golden.QUICK_STRIDE


# in interleaved parts of the files (their union is every file, the stale-file check runs in
# part 1: test_shards_are_a_partition_of_the_files), so pytest-xdist spreads the ~60 s check
# over its workers instead of leaving one of them the whole tail
QUICK_SHARDS = 8


@pytest.mark.parametrize("part", range(1, QUICK_SHARDS + 1))
def test_golden_check_quick_subset(part):
    problems = check_all(fast_only=True, bulk_stride=QUICK_STRIDE, shard=(part, QUICK_SHARDS))
    assert not problems, "\n".join(problems)


def test_quick_subset_keeps_every_edge_and_a_stride_of_the_grid():
    notes = ["grid A=1 log_w=0", "edge: w = 0", "grid A=1 log_w=1", "seeded k=3", "seed 7.1: x"]
    notes += [f"gamma boundary grid {{'gamma': {g}}} A=1" for g in range(6)]
    keep = golden.quick_subset("weights.power_weight", notes, 3)
    bulk = [k for n, k in zip(notes, keep) if golden._is_bulk(n)]
    assert [n for n, k in zip(notes, keep) if not golden._is_bulk(n)] == ["edge: w = 0", "seed 7.1: x"]
    assert all(k for n, k in zip(notes, keep) if not golden._is_bulk(n))
    assert len(bulk) == 9 and sum(bulk) == 3  # every third, at one offset
    assert golden.quick_subset("weights.power_weight", notes, 1) == [True] * len(notes)
    with pytest.raises(ValueError, match="bulk_stride"):
        golden.quick_subset("k", notes, 0)


def test_quick_check_sees_a_wrong_value_in_a_kept_row_and_skips_dropped_rows(tmp_path, monkeypatch):
    import io

    spec = golden.load_all_specs()["weights.power_weight"]
    stored = json.loads(spec.path.read_text())
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    spec.path.parent.mkdir(parents=True)
    rows = [r for r in stored["cases"] if r["fast"]]
    keep = golden.quick_subset(spec.key, [r["note"] for r in rows], QUICK_STRIDE)
    assert 0 < sum(keep) < len(keep)

    def check_with_wrong(i):
        bad = json.loads(json.dumps(stored))
        fast_rows = [r for r in bad["cases"] if r["fast"]]
        fast_rows[i]["expected"] = golden.encode_value(float(fast_rows[i]["expected"]) * 1.5 + 1)
        spec.path.write_text(golden.dumps(bad))
        return check_all(only=[spec.key], out=io.StringIO(), bulk_stride=QUICK_STRIDE)

    bulk = [golden._is_bulk(r["note"]) for r in rows]
    kept = next(i for i, (k, b) in enumerate(zip(keep, bulk)) if k and b)  # a sampled grid row
    dropped = keep.index(False)
    problems = check_with_wrong(kept)
    assert len(problems) == 1 and "differs" in problems[0]
    assert check_with_wrong(dropped) == []  # the full check's job (below, opt-in)

    # a lost row is seen even where the sample would not show it
    short = json.loads(json.dumps(stored))
    del short["cases"][max(i for i, r in enumerate(short["cases"]) if r["fast"])]
    spec.path.write_text(golden.dumps(short))
    problems = check_all(only=[spec.key], out=io.StringIO(), bulk_stride=QUICK_STRIDE)
    assert any("stored fast cases" in p for p in problems), problems

    # the header is checked by the sample too: a stale description, a wrong total count
    for field, value, said in (("description", "stale", "header differs"), ("n_cases", 3, "n_cases")):
        bad = json.loads(json.dumps(stored))
        bad["header"][field] = value
        spec.path.write_text(golden.dumps(bad))
        problems = check_all(only=[spec.key], out=io.StringIO(), bulk_stride=QUICK_STRIDE)
        assert len(problems) == 1 and said in problems[0], problems
    spec.path.write_text(golden.dumps(stored))
    assert check_all(only=[spec.key], out=io.StringIO(), bulk_stride=QUICK_STRIDE) == []


def test_quick_subset_checks_a_bulk_row_of_a_file_with_few():
    notes = ["edge: a", "grid x=1", "grid x=2"]  # 2 bulk rows, stride 6
    for key in ("diagnostics.kish_ess", "divergences.kl_divergence", "a", "b", "c"):
        keep = golden.quick_subset(key, notes, 6)
        assert keep[0] and sum(keep[1:]) == 1, (key, keep)


@pytest.mark.slow
@pytest.mark.heavy  # ~200 CPU-s: opt-in (ISRESHAPE_SLOW=1), not in CI
def test_golden_check_full():
    problems = check_all(fast_only=False)
    assert not problems, "\n".join(problems)


def test_shards_are_a_partition_of_the_files():
    import io

    def checked(shard):
        out = io.StringIO()
        problems = check_all(only=["divergences"], out=out, bulk_stride=50, shard=shard)
        assert problems == []
        return [ln.split("] ")[1].split(":")[0] for ln in out.getvalue().splitlines() if ln.startswith("[")]

    whole = checked((1, 1))
    parts = [checked((k, 3)) for k in (1, 2, 3)]
    assert len(whole) > 3 and sorted(sum(parts, [])) == sorted(whole)
    assert all(parts) and not set(parts[0]) & set(parts[1])
    for bad in ((0, 2), (3, 2), (1, 0)):
        with pytest.raises(ValueError, match="shard"):
            check_all(only=["divergences"], shard=bad)


def test_cli_refuses_bad_quick_and_shard(capsys):
    from isreshape.proofs import cli

    assert cli.main(["golden", "--check", "--quick", "--full"]) == 2
    assert "exclude" in capsys.readouterr().err
    assert cli.main(["golden", "--check", "--shard", "3/2"]) == 2
    assert "--shard must be K/N" in capsys.readouterr().err
    assert cli.main(["golden", "--check", "--quick", "--shard", "2/4", "--only", "weights"]) == 0
    capsys.readouterr()
    # --write regenerates whole files: the check-only flags are refused before anything is written
    for flags in (["--quick"], ["--full"], ["--shard", "1/2"], ["--quick", "--shard", "1/1"]):
        assert cli.main(["golden", "--write", *flags, "--only", "weights"]) == 2
        err = capsys.readouterr().err
        assert "only go with --check" in err and flags[0] in err
