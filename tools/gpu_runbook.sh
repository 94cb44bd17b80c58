#!/usr/bin/env bash
# The GPU runbook: the CUDA tests and both benchmarks on one CUDA machine, figures to files.
#
#     bash tools/gpu_runbook.sh [OUT_DIR]        # default build/gpu (git-ignored)
#
# Writes OUT_DIR/env.txt (nvidia-smi -L, Python, torch and CUDA versions), OUT_DIR/tests.txt
# (pytest -q tests/test_cuda.py tests/test_sampling.py -k cuda), OUT_DIR/bench_loss.txt
# (isreshape bench loss --device cuda: every design eager, at the default shapes 64x4096 and
# 16x32768 in float32 and bfloat16, then eager + compiled for $COMPILED_DESIGNS) and
# OUT_DIR/bench_alpha.txt (isreshape bench alpha --device cuda, N = 64, V = 152064).
# Exit status: 1 when the tests fail (or CUDA is missing, or a benchmark fails or runs out of
# its time), 0 otherwise; every step runs even after a failed one, so the files are complete.
#
# Expected time on one H100 (an estimate: this script has not been run on a GPU yet): about
# 4-5 minutes, most of it torch.compile (a forward + backward of policy_loss_and_metrics took
# ~14 s to compile on 2 CPU cores; the tests compile 4 designs, the compiled benchmark 5
# contenders x 4 (shape, dtype) cells); the timed calls themselves take seconds. Each step has
# a time limit (limit_* below, 525 s in all), so the script ends inside 10 minutes whatever
# happens; a benchmark stopped there keeps the tables it had printed.
#
# The benchmarks run as `python -m isreshape.proofs.cli bench ...`, i.e. `isreshape bench ...`
# with the interpreter chosen here (the console script need not be on PATH).
#
# Installs nothing unless needed: `pip install -e ".[test]"` only when isreshape, pytest or
# hypothesis cannot be imported (a machine without network needs them installed beforehand).
# PYTHON=... picks the interpreter (default: python); COMPILED_DESIGNS=... (comma-separated)
# the designs compiled in the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu}
python=${PYTHON:-python}
compiled_designs=${COMPILED_DESIGNS:-ppo_clip,is_reshape_ess,gspo,variational_gamma}
repeats=5 # timed rounds per benchmark (the medians of 5 are stable on an idle GPU)

# seconds per step: tests, bench loss eager, bench loss compiled, bench alpha
limit_tests=150
limit_eager=60
limit_compiled=270
limit_alpha=45

mkdir -p "$out"
export PYTHONUNBUFFERED=1 # a step stopped by its time limit keeps what it printed
failed=()

if ! "$python" -c "import isreshape, pytest, hypothesis" 2>/dev/null; then
    echo "isreshape, pytest or hypothesis not importable: pip install -e .[test]"
    "$python" -m pip install -e ".[test]"
fi

# run NAME LIMIT FILE COMMAND...: append "$ COMMAND" and its output to FILE, within LIMIT s
run() {
    local name=$1 limit=$2 file=$3 rc=0
    shift 3
    echo "$ $*" >>"$file"
    timeout "$limit" "$@" >>"$file" 2>&1 || rc=$?
    if ((rc == 124)); then
        echo "[runbook] stopped after ${limit} s (time limit of this step)" >>"$file"
    fi
    if ((rc != 0)); then
        failed+=("$name (exit $rc)")
    fi
    echo "[runbook] $name: exit $rc -> $file"
}

: >"$out/env.txt"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    nvidia-smi -L || echo "nvidia-smi not found"
    "$python" -c "import sys, torch
print('python', sys.version.split()[0])
print('torch', torch.__version__, 'built with CUDA', torch.version.cuda)
print('cuda available', torch.cuda.is_available())
if torch.cuda.is_available():
    print('device 0', torch.cuda.get_device_name(0), 'capability', torch.cuda.get_device_capability(0))
    print('cuda runtime', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
} >>"$out/env.txt" 2>&1
cat "$out/env.txt"

if ! "$python" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "[runbook] torch.cuda.is_available() is False: the CUDA tests would only skip" \
        | tee -a "$out/env.txt" >&2
    exit 1
fi

for f in tests.txt bench_loss.txt bench_alpha.txt; do
    : >"$out/$f"
done

run tests "$limit_tests" "$out/tests.txt" \
    "$python" -m pytest -q tests/test_cuda.py tests/test_sampling.py -k cuda
run "bench loss eager" "$limit_eager" "$out/bench_loss.txt" \
    "$python" -m isreshape.proofs.cli bench loss --device cuda --modes eager \
    --dtypes float32,bfloat16 --repeats "$repeats"
echo >>"$out/bench_loss.txt"
run "bench loss compiled" "$limit_compiled" "$out/bench_loss.txt" \
    "$python" -m isreshape.proofs.cli bench loss --device cuda --modes eager,compiled \
    --dtypes float32,bfloat16 --designs "$compiled_designs" --repeats "$repeats"
run "bench alpha" "$limit_alpha" "$out/bench_alpha.txt" \
    "$python" -m isreshape.proofs.cli bench alpha --device cuda --repeats "$repeats"

tail -n 3 "$out/tests.txt"
if ((${#failed[@]})); then
    printf '[runbook] failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "[runbook] done: $out"
