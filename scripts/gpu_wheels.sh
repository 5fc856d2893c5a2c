#!/usr/bin/env bash
# Download, here (where the package registry is reachable), the wheels a GPU machine WITHOUT network lacks:
# bitsandbytes, lm-eval, datasets, rouge-score and every runtime dependency of theirs that is not already
# installed there (Python 3.12, x86-64 manylinux). scripts/gpu_check.sh installs them from .whl/ with
#   python3 -m pip install --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
#
#   bash scripts/gpu_wheels.sh            # -> .whl/*.whl and .whl/MANIFEST.txt
#   WHEEL_DIR=/elsewhere bash scripts/gpu_wheels.sh
#
# The dependency closure is computed from each wheel's Requires-Dist (markers evaluated for CPython 3.12 on
# Linux, no extras), minus the packages the GPU image already holds (PRESENT below, read off the image's package
# list). Versions: what this checkout's virtualenv has installed (the tested stack), else the newest release.
# Packages published only as source (rouge-score, sqlitedict, word2number) are built into pure-Python wheels.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_DIR=${WHEEL_DIR:-.whl}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT_DIR"

# Top-level packages the project needs that the GPU image lacks, at the versions constraints.txt pins.
ROOTS=(bitsandbytes lm-eval datasets rouge-score)

"$PY" - "$OUT_DIR" "${ROOTS[@]}" <<'PYEOF'
import email.parser
import re
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

out_dir, roots = Path(sys.argv[1]), sys.argv[2:]

# The GPU image's packages (/work/.library/device/KINDS.md, "Python packages already there", 2026-11-17).
PRESENT = set("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy
peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile
tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm
transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel
wrapt xarray xxhash yarl zipp
""".split())
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
ENV = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.3",
       "implementation_name": "cpython", "platform_python_implementation": "CPython", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix", "extra": ""}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pin(name: str) -> str:
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return name


def wheel_of(name: str) -> Path | None:
    for whl in out_dir.glob("*.whl"):
        if norm(whl.name.split("-")[0]) == norm(name):
            return whl
    return None


def fetch(name: str) -> Path:
    found = wheel_of(name)
    if found:
        return found
    want = pin(name)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           "3.12", "--implementation", "cp", *sum((["--platform", p] for p in PLATFORMS), []), "-d", str(out_dir),
           want]
    if subprocess.run(cmd, check=False).returncode != 0:  # published as source only: build a pure-Python wheel
        print(f"  {want}: no binary wheel, building one", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out_dir), want], check=True)
    found = wheel_of(name)
    if found is None:
        sys.exit(f"gpu_wheels: no wheel for {want} in {out_dir}")
    return found


def requires(whl: Path) -> list[Requirement]:
    with zipfile.ZipFile(whl) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        msg = email.parser.Parser().parsestr(zf.read(meta).decode())
    reqs = [Requirement(line) for line in msg.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(ENV)]


todo, seen, present_specs = list(roots), set(), []
while todo:
    name = todo.pop(0)
    if norm(name) in seen:
        continue
    seen.add(norm(name))
    whl = fetch(name)
    print(f"{whl.name}", flush=True)
    for req in requires(whl):
        if norm(req.name) in PRESENT:
            if str(req.specifier):
                present_specs.append(f"{req.name}{req.specifier}  (needed by {whl.name.split('-')[0]})")
        elif norm(req.name) not in seen:
            todo.append(req.name)

names = {norm(w.name.split("-")[0]) for w in out_dir.glob("*.whl")}
extra = sorted(n for n in names if n not in seen)
if extra:
    sys.exit(f"gpu_wheels: {out_dir} holds wheels outside the closure ({', '.join(extra)}): remove them")
total = sum(w.stat().st_size for w in out_dir.glob("*.whl"))
lines = [f"{w.name}  {w.stat().st_size / 2**20:.1f} MiB" for w in sorted(out_dir.glob("*.whl"))]
lines += ["", f"total {total / 2**20:.1f} MiB in {len(lines)} wheels", "",
          "version ranges needed of packages the GPU image already has (check `pip show` there if one fails):",
          *sorted(set(present_specs))]
(out_dir / "MANIFEST.txt").write_text("\n".join(lines) + "\n")
print("\n".join(lines[-(len(present_specs) + 4):]) if present_specs else lines[-1])
PYEOF

# The main checkout travels to the device machine; its .whl/ must stay untracked and out of git status.
for repo in /work/main .; do
  exclude=$(git -C "$repo" rev-parse --git-path info/exclude 2>/dev/null) || continue
  case "$exclude" in /*) ;; *) exclude="$repo/$exclude" ;; esac
  grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
done
echo "wheels in $OUT_DIR ($(du -sh "$OUT_DIR" | cut -f1))"
