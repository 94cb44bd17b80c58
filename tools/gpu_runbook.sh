#!/usr/bin/env bash
# The GPU runbook: the CUDA tests and both benchmarks on one CUDA machine, figures to files.
#
#     bash tools/gpu_runbook.sh [OUT_DIR]        # default build/gpu (git-ignored)
#
# Writes OUT_DIR/env.txt (nvidia-smi -L, Python, torch and CUDA versions), OUT_DIR/tests.txt
# (pytest -q tests/test_cuda.py tests/test_sampling.py -k cuda), OUT_DIR/bench_loss.txt
# (isreshape bench loss --device cuda: every design eager, at the default shapes 64x4096 and
# 16x32768 in float32 and bfloat16, then eager + compiled for $COMPILED_DESIGNS at 64x4096) and
# OUT_DIR/bench_alpha.txt (isreshape bench alpha --device cuda, N = 64, V = 152064).
# Exit status: 1 when the tests fail (or CUDA or a test package is missing, or a benchmark
# fails or runs out of its time, or the script itself stops early), 0 otherwise; every step
# runs even after a failed one, so the files are complete. An early stop still leaves
# OUT_DIR/env.txt, with its reason on the last line.
#
# Expected time on one H100 (an estimate: this script has not been run on a GPU yet): about
# 4-5 minutes, most of it torch.compile (a forward + backward of policy_loss_and_metrics took
# ~14 s to compile on 2 CPU cores; the tests compile 4 designs, the compiled benchmark 6
# contenders (4 designs, the baseline, is_reshape_ess's guard-free floor) x 2 dtypes at one shape); the timed calls themselves take seconds.
# Time limits: every command runs under `timeout -k 10` (SIGTERM at its limit, SIGKILL 10 s
# later: a process stuck in a CUDA call or a compile dies too) with the limit of its step
# (LIMIT_* below), cut to what is left of the whole script's RUNBOOK_TOTAL_LIMIT (default
# 480 s, the kill grace included): the script ends inside that, well inside 10 minutes,
# whatever happens. A step with no time left is skipped and counts as failed; a benchmark
# stopped at its limit keeps the tables it had printed.
#
# The benchmarks run as `python -m isreshape.proofs.cli bench ...`, i.e. `isreshape bench ...`
# with the interpreter chosen here (the console script need not be on PATH); from the repo
# root `isreshape` imports from the checkout.
#
# Installs nothing (the GPU machines have no network, where pip would retry for minutes):
# pytest and hypothesis must be importable beforehand (`pip install -e ".[test]"`), else the
# script says so in env.txt and exits 1.
# PYTHON=... picks the interpreter (default: python); COMPILED_DESIGNS=... (comma-separated)
# the designs compiled in the benchmark; LIMIT_TESTS, LIMIT_EAGER, LIMIT_COMPILED,
# LIMIT_ALPHA, RUNBOOK_TOTAL_LIMIT (seconds) override the time limits.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu}
python=${PYTHON:-python}
compiled_designs=${COMPILED_DESIGNS:-ppo_clip,is_reshape_ess,gspo,variational_gamma}
repeats=5 # timed rounds per benchmark (the medians of 5 are stable on an idle GPU)

# seconds per step: tests, bench loss eager, bench loss compiled, bench alpha; probes
limit_tests=${LIMIT_TESTS:-150}
limit_eager=${LIMIT_EAGER:-60}
limit_compiled=${LIMIT_COMPILED:-180}
limit_alpha=${LIMIT_ALPHA:-45}
limit_probe=60 # each probe: imports, nvidia-smi, the versions (CUDA initialisation)
total_limit=${RUNBOOK_TOTAL_LIMIT:-480}
kill_after=10
started=$SECONDS

mkdir -p "$out"
env_txt="$out/env.txt"
: >"$env_txt"
# an unexpected stop (set -e) leaves its reason in env.txt and exits 1, as promised above
trap 'echo "[runbook] aborted at line $LINENO (exit $?)" | tee -a "$env_txt" >&2; exit 1' ERR
export PYTHONUNBUFFERED=1 # a step stopped by its time limit keeps what it printed
failed=()

# step_limit WANTED: WANTED seconds, cut to what is left of total_limit (0: nothing left)
step_limit() {
    local left=$((total_limit - (SECONDS - started) - kill_after))
    if ((left < 1)); then
        echo 0
    elif (($1 < left)); then
        echo "$1"
    else
        echo "$left"
    fi
}

# bounded COMMAND...: COMMAND under timeout -k, within limit_probe and the total limit
bounded() {
    local lim
    lim=$(step_limit "$limit_probe")
    if ((lim == 0)); then
        echo "[runbook] no time left for: $*"
        return 124
    fi
    timeout -k "$kill_after" "$lim" "$@"
}

# run NAME LIMIT FILE COMMAND...: append "$ COMMAND" and its output to FILE, within LIMIT s
run() {
    local name=$1 limit=$2 file=$3 rc=0 lim
    shift 3
    lim=$(step_limit "$limit")
    echo "$ $*" >>"$file"
    if ((lim == 0)); then
        echo "[runbook] skipped: no time left of ${total_limit} s" >>"$file"
        rc=124
    else
        timeout -k "$kill_after" "$lim" "$@" >>"$file" 2>&1 || rc=$?
        if ((rc == 124 || rc == 137)); then
            echo "[runbook] stopped after ${lim} s (time limit of this step)" >>"$file"
        fi
    fi
    if ((rc != 0)); then
        failed+=("$name (exit $rc)")
    fi
    echo "[runbook] $name: exit $rc -> $file"
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    bounded nvidia-smi -L || echo "nvidia-smi -L failed or not found (exit $?)"
    bounded "$python" -c "import sys, torch
print('python', sys.version.split()[0])
print('torch', torch.__version__, 'built with CUDA', torch.version.cuda)
print('cuda available', torch.cuda.is_available())
if torch.cuda.is_available():
    print('device 0', torch.cuda.get_device_name(0), 'capability', torch.cuda.get_device_capability(0))
    print('cuda runtime', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" \
        || echo "the torch version probe failed (exit $?)"
} >>"$env_txt" 2>&1
cat "$env_txt"

rc=0
bounded "$python" -c "import isreshape, pytest, hypothesis" >>"$env_txt" 2>&1 || rc=$?
if ((rc != 0)); then
    echo "[runbook] isreshape, pytest or hypothesis cannot be imported (exit $rc, see above):" \
        "this script installs nothing (no network on the GPU machines); install them" \
        "beforehand: $python -m pip install -e \".[test]\"" | tee -a "$env_txt" >&2
    exit 1
fi

rc=0
bounded "$python" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" || rc=$?
if ((rc != 0)); then
    echo "[runbook] torch.cuda.is_available() is not True (exit $rc): the CUDA tests would" \
        "only skip" | tee -a "$env_txt" >&2
    exit 1
fi

for f in tests.txt bench_loss.txt bench_alpha.txt; do
    : >"$out/$f"
done

run tests "$limit_tests" "$out/tests.txt" \
    "$python" -m pytest -q -rA --durations=0 tests/test_cuda.py tests/test_sampling.py -k cuda
run "bench loss eager" "$limit_eager" "$out/bench_loss.txt" \
    "$python" -m isreshape.proofs.cli bench loss --device cuda --modes eager \
    --dtypes float32,bfloat16 --repeats "$repeats"
run "bench alpha" "$limit_alpha" "$out/bench_alpha.txt" \
    "$python" -m isreshape.proofs.cli bench alpha --device cuda --repeats "$repeats"
echo >>"$out/bench_loss.txt"
run "bench loss compiled" "$limit_compiled" "$out/bench_loss.txt" \
    "$python" -m isreshape.proofs.cli bench loss --device cuda --modes eager,compiled \
    --shapes 64x4096 --dtypes float32,bfloat16 --designs "$compiled_designs" \
    --repeats "$repeats"

tail -n 3 "$out/tests.txt"
if ((${#failed[@]})); then
    printf '[runbook] failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "[runbook] done: $out"
