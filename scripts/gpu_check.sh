#!/usr/bin/env bash
# The whole loop on a CUDA GPU, offline, in one go (under 10 minutes on one H200; it took 9.6 min there with
# training and gating one model at a time, now three at a time):
#   install (carried wheels in .whl/ from scripts/gpu_wheels.sh, then the project) -> build the reference model
#   -> train the lora, qlora and reckless recipes -> gate them (pytest suites/ --device=cuda) -> device figures
#   (scripts/gpu_bench.py) -> one compact table. Everything is also written to $OUT when it is set.
#
#   bash scripts/gpu_check.sh                       # on the GPU machine
#   GPU_CHECK_DEVICE=cpu bash scripts/gpu_check.sh  # dry run of the same logic on a CPU (tiny step counts)
#
# Knobs (environment): GPU_CHECK_DEVICE (cuda | cuda:N | cpu), GPU_CHECK_DTYPE (auto), GPU_CHECK_BASE (an existing
# reference model directory to use instead of building), GPU_CHECK_BUILD_STEPS / GPU_CHECK_TRAIN_STEPS (caps;
# CPU defaults 20 / 4), GPU_CHECK_SHAPES (bench shapes, CPU default: reference), GPU_CHECK_BENCH_BUDGET (s).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DEVICE=${GPU_CHECK_DEVICE:-cuda}
DTYPE=${GPU_CHECK_DTYPE:-auto}
PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
LOG_DIR=${OUT:-$WORK}
mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/gpu_check.log
exec > >(tee -a "$LOG") 2>&1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export HARNESS_HOME=${GPU_CHECK_HOME:-$WORK/home}
if [ "$DEVICE" = cpu ]; then
  BUILD_STEPS=${GPU_CHECK_BUILD_STEPS:-20}
  TRAIN_STEPS=${GPU_CHECK_TRAIN_STEPS:-4}
  SHAPES=${GPU_CHECK_SHAPES:-reference}
  BENCH=(--prompts 8 --new-tokens 8 --steps 2 --batch 4 --seq 64)
else
  BUILD_STEPS=${GPU_CHECK_BUILD_STEPS:-}
  TRAIN_STEPS=${GPU_CHECK_TRAIN_STEPS:-}
  SHAPES=${GPU_CHECK_SHAPES:-reference,135m,1.7b}
  BENCH=()
fi
START=$(date +%s)
declare -a TIMES=()

step() {  # step NAME COMMAND...: run, time and record it; a failure stops the script with the step's name
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "=== [$(($(date +%s) - START)) s] $name"
  set +e
  "$@"
  rc=$?
  set -e
  TIMES+=("$(printf '%-34s %5s s  rc=%s' "$name" "$(($(date +%s) - t0))" "$rc")")
  if [ "$rc" -ne 0 ] && [ "${ALLOW_FAIL:-0}" != 1 ]; then
    echo "gpu_check: step '$name' failed (exit code $rc); log: $LOG" >&2
    exit "$rc"
  fi
  return 0
}

check_device() {
  if [ "$DEVICE" = cpu ]; then
    echo "CPU dry run: tiny step counts; figures are not GPU figures"
    return 0
  fi
  "$PY" - "$DEVICE" <<'EOF' || { echo "gpu_check: no CUDA device is visible to torch (GPU_CHECK_DEVICE=$DEVICE); nvidia-smi says:" >&2; nvidia-smi >&2 || true; exit 3; }
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(1)
index = int(sys.argv[1].split(":")[1]) if ":" in sys.argv[1] else 0
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}: {torch.cuda.device_count()} GPU(s); using "
      f"{torch.cuda.get_device_name(index)}, bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
EOF
}

install() {
  if ! "$PY" -c "import lm_eval, bitsandbytes, datasets, rouge_score" 2>/dev/null; then
    ls .whl/*.whl >/dev/null 2>&1 || { echo "gpu_check: lm-eval/bitsandbytes/datasets/rouge-score are missing and there is no .whl/: run scripts/gpu_wheels.sh where a registry is reachable, and carry .whl" >&2; return 1; }
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  # The project itself, offline: editable install (registers the pytest plugin and the harness script) or, if
  # that cannot build here, the checkout on PYTHONPATH with the plugin named explicitly.
  if "$PY" -c "import harness.plugin" 2>/dev/null && "$PY" -m pip show -q gate-harness >/dev/null 2>&1; then
    PLUGIN=()
  elif "$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e . >/dev/null 2>&1; then
    PLUGIN=()
  else
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    PLUGIN=(-p harness.plugin)
  fi
  # Each carried wheel's needs must be met by what the machine has (versions included).
  "$PY" - <<'EOF'
import re
from importlib.metadata import PackageNotFoundError, distribution, version
from packaging.markers import default_environment
from packaging.requirements import Requirement
roots = ["lm_eval", "bitsandbytes", "datasets", "rouge_score", "gate-harness"]
seen, todo, problems = set(), list(roots), []
while todo:
    name = todo.pop()
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen.add(key)
    try:
        reqs = distribution(name).requires or []
    except PackageNotFoundError:
        problems.append(f"{name}: not installed")
        continue
    for line in reqs:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({**default_environment(), "extra": ""}):
            continue
        try:
            have = version(req.name)
        except PackageNotFoundError:
            problems.append(f"{req.name} (needed by {name}): not installed")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req.name} {have} (needed by {name} as {req.specifier}): version out of range")
        todo.append(req.name)
print("requirements: " + ("all met" if not problems else "WARNING\n  " + "\n  ".join(problems)))
EOF
  "$PY" -c "import torch, transformers, peft, accelerate, bitsandbytes, lm_eval, datasets; print('torch', torch.__version__, '| transformers', transformers.__version__, '| peft', peft.__version__, '| accelerate', accelerate.__version__, '| bitsandbytes', bitsandbytes.__version__, '| lm-eval', lm_eval.__version__, '| datasets', datasets.__version__)"
}

harness() { "$PY" -m harness.cli "$@"; }

build() {
  if [ -n "${GPU_CHECK_BASE:-}" ]; then
    harness registry set base "$GPU_CHECK_BASE" --reason "gpu_check: given base"
  else
    harness world build --device "$DEVICE" --dtype "$DTYPE" --quiet ${BUILD_STEPS:+--steps "$BUILD_STEPS"}
  fi
  if [ "$DEVICE" != cpu ]; then  # the held-out quality bars (minutes on a CPU: skipped in the dry run)
    harness world eval --model base --device "$DEVICE" --dtype "$DTYPE" --out "$WORK/world_eval.json" || true
  fi
}

train() {  # train RECIPE: the shipped recipe on the device (capped at TRAIN_STEPS steps when set)
  "$PY" - "$1" "$DEVICE" "$DTYPE" "${TRAIN_STEPS:-0}" <<'EOF'
import sys
from dataclasses import replace
from training.config import RECIPES_DIR, load_train_spec
from training.train import train
recipe, device, dtype, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spec = replace(load_train_spec(RECIPES_DIR / f"{recipe}.yaml"), device=device, dtype=dtype)
if steps:
    short = spec.with_max_steps(steps)
    spec = replace(short, training=replace(short.training, eval_every=max(1, steps // 2)))
result = train(spec, progress=False)
p = result.provenance
print(f"{recipe}: {p.get('train_seconds')} s on {p.get('placement')}, registered as {spec.register_as}")
EOF
}

gate() {  # gate ALIAS [PYTEST ARGS]: the shipped suites (a scratch copy: baselines are recorded beside it) on the device
  local rc=0 alias=$1
  shift
  # Each alias reports into its own directory, so gating runs side by side never mix up their results.
  "$PY" -m pytest "$WORK/suites" "${PLUGIN[@]}" --model="$alias" --baseline=base --device="$DEVICE" --dtype="$DTYPE" \
    --report-dir="$WORK/reports-$alias" -p no:cacheprovider -q --no-header -o addopts="" "$@" || rc=$?
  echo "pytest exit code $rc for $alias"
  cp "$(ls -d "$WORK/reports-$alias"/runs/*/ | tail -1)results.json" "$WORK/results-$alias.json" 2>/dev/null || true
  [ "$rc" -le 1 ]  # 0 all passed, 1 a gate failed: both are results; anything else is a broken run
}

together() {  # together "FUNC ARGS" ...: run each in the background (own log, shown after), wait; fail if any failed
  local i=0 rc=0 pids=() logs=() cmd
  for cmd in "$@"; do
    logs+=("$WORK/together-$i.log")
    # shellcheck disable=SC2086  # each argument is one function call with its words
    ( $cmd ) >"$WORK/together-$i.log" 2>&1 &
    pids+=($!)
    i=$((i + 1))
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "'${*:$((i + 1)):1}' failed"; rc=1; }
    echo "--- ${*:$((i + 1)):1}"
    cat "${logs[$i]}"
  done
  return "$rc"
}

bench() {
  "$PY" scripts/gpu_bench.py --device "$DEVICE" --dtype "$DTYPE" --shapes "$SHAPES" \
    --budget "${GPU_CHECK_BENCH_BUDGET:-$((540 - ($(date +%s) - START)))}" --json "$WORK/bench.json" "${BENCH[@]}"
}

summary() {
  "$PY" - "$WORK" <<'EOF'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
for alias in ("candidate", "candidate-qlora", "candidate-reckless"):
    path = work / f"results-{alias}.json"
    if not path.is_file():
        print(f"{alias}: no results")
        continue
    doc = json.loads(path.read_text())
    place = doc["models"]["candidate"].get("placement", {})
    print(f"{alias}: verdict {doc['verdict']} ({place.get('device')}, {place.get('dtype')})")
    for g in doc["gates"]:
        print(f"  {g['name']:<34} {g['verdict']:<13} {g.get('metric', '')!s:<16} cand {g.get('candidate_value')!s:<8.8}"
              f" ref {g.get('reference_value')!s:<8.8}")
bench = work / "bench.json"
if bench.is_file():
    b = json.loads(bench.read_text())
    g = b["generation"]
    print(f"generate: plain {g['plain_tok_s']} tok/s, harness {g['harness_tok_s']} tok/s ({g['harness_vs_plain']}x)")
    for row in b["training"]:
        print(f"  train {row['shape']:>9} {row['method']:<5} {row['tok_s']:>10,.0f} tok/s  peak {row['peak_gib']} GiB")
    if b.get("skipped_shapes"):
        print(f"  skipped shapes: {', '.join(b['skipped_shapes'])}")
EOF
}

echo "gpu_check: device=$DEVICE dtype=$DTYPE work=$WORK HARNESS_HOME=$HARNESS_HOME"
step "device" check_device
step "install" install
mkdir -p "$WORK/suites" && cp suites/*.yaml "$WORK/suites/"
step "build reference model" build
# The three recipes train side by side, and the three candidates are gated side by side: each process is small
# and mostly waits on Python and the CPU (one thread each), so one GPU runs three at once in about the time of one.
step "train lora, qlora, reckless" together "train lora" "train qlora" "train reckless"
step "record baselines (base)" gate base --update-baselines -m baseline
ALLOW_FAIL=1 step "gate lora, qlora, reckless" together "gate candidate" "gate candidate-qlora" "gate candidate-reckless"
ALLOW_FAIL=1 step "bench" bench

echo
echo "================ gpu_check summary ($(($(date +%s) - START)) s, device $DEVICE) ================"
printf '%s\n' "${TIMES[@]}"
if [ "$DEVICE" != cpu ]; then
  "$PY" -c "import torch; print(f'GPU: {torch.cuda.get_device_name(0)}')" || true
fi
summary | tee "$WORK/summary.txt"
if [ -n "${OUT:-}" ]; then
  cp "$WORK"/results-*.json "$WORK/bench.json" "$WORK/summary.txt" "$OUT/" 2>/dev/null || true
fi
