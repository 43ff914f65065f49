#!/usr/bin/env bash
# Build worldtune's virtual environment from nothing; safe to run again (it skips what is done).
#
# Why a script and not just `pip install -e .`: PyPI has no mmcv 2.0.1 wheel for torch 2.13,
# so mmcv is compiled here once (10-15 minutes on 2 idle cores) and the wheel is kept in a cache
# outside the clone ($WORLDTUNE_CACHE, default ~/.cache/worldtune) for every later setup.
#
# usage: scripts/setup.sh [--test]     (--test also installs the test extra)
# env:   PYTHON (default python3.11 or python3), VENV (default .venv), WORLDTUNE_CACHE
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
CACHE=${WORLDTUNE_CACHE:-$HOME/.cache/worldtune}
TORCH_VERSION=2.13.0
MMCV_VERSION=2.0.1
SETUPTOOLS_VERSION=80.9.0   # mmcv's setup.py imports pkg_resources, removed in setuptools 81
EXTRA=""
[[ "${1:-}" == "--test" ]] && EXTRA="[test]"

step() { printf '\n[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '\n[setup] FAILED: %s\n' "$*" >&2; exit 1; }
trap 'fail "command on line $LINENO exited with $? (see the output above)"' ERR

if [[ -z "${PYTHON:-}" ]]; then
    PYTHON=$(command -v python3.11 || command -v python3) || fail "no python3 on PATH (Python >= 3.11 needed)"
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$PYTHON is $("$PYTHON" -V 2>&1); worldtune needs Python >= 3.11"

if [[ ! -x "$VENV/bin/python" ]]; then
    step "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
export PIP_NO_INPUT=1

step "build tools (setuptools $SETUPTOOLS_VERSION, wheel, ninja)"
"${PIP[@]}" install -q "setuptools==$SETUPTOOLS_VERSION" wheel ninja

if "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    step "torch $TORCH_VERSION already installed"
else
    step "installing torch $TORCH_VERSION (first, because mmcv compiles against it)"
    "${PIP[@]}" install -q "torch==$TORCH_VERSION"
fi

# Build CUDA ops only where they can run: a CUDA torch and nvcc, for the local GPU only.
CUDA_TAG=cpu
if "$PY" -c "import torch, sys; sys.exit(not (torch.version.cuda and torch.cuda.is_available()))" 2>/dev/null \
        && command -v nvcc >/dev/null; then
    ARCH=$("$PY" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability(0))")
    CUDA_TAG="cu$("$PY" -c "import torch; print(torch.version.cuda.replace('.', ''))")-sm${ARCH/./}"
    export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH"
    step "CUDA found: mmcv ops will be built for compute capability $ARCH"
fi

PYTAG=$("$PY" -c "import sys; print('cp%d%d' % sys.version_info[:2])")
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$CUDA_TAG"
if "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
    step "mmcv $MMCV_VERSION with ops already installed"
else
    WHEEL=$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl 2>/dev/null | head -n1 || true)
    if [[ -z "$WHEEL" ]]; then
        step "building mmcv $MMCV_VERSION with its ops ($CUDA_TAG, 10-15 minutes on 2 idle cores; cached in $WHEEL_DIR)"
        BUILD=$(mktemp -d)
        "${PIP[@]}" download -q --no-deps --no-binary=:all: --no-build-isolation -d "$BUILD" "mmcv==$MMCV_VERSION"
        tar xzf "$BUILD/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD"
        # torch 2.13's headers refuse C++14, which mmcv 2.0.1 asks for.
        sed -i 's/-std=c++14/-std=c++17/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        mkdir -p "$WHEEL_DIR"
        (cd "$BUILD/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "${PIP[@]}" wheel -q --no-deps --no-build-isolation -w "$WHEEL_DIR.partial" .)
        mv "$WHEEL_DIR.partial"/*.whl "$WHEEL_DIR"/ && rmdir "$WHEEL_DIR.partial"
        rm -rf "$BUILD"
        WHEEL=$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl | head -n1)
    else
        step "reusing cached mmcv wheel $WHEEL"
    fi
    "${PIP[@]}" install -q --no-deps "$WHEEL"
    "${PIP[@]}" install -q addict mmengine==0.10.7 numpy opencv-python-headless packaging pyyaml yapf
fi

step "installing worldtune$EXTRA (editable) and its pinned dependencies"
"${PIP[@]}" install -q -e "$ROOT$EXTRA"

# The dashboard test drives a real headless browser: Debian's chromium (no browser download).
if [[ -n "$EXTRA" ]]; then
    if [[ -x /usr/bin/chromium ]]; then
        step "chromium already installed ($(/usr/bin/chromium --version 2>/dev/null || echo '/usr/bin/chromium'))"
    else
        command -v apt-get >/dev/null \
            || fail "the tests need /usr/bin/chromium and there is no apt-get: install Debian's 'chromium' package"
        SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
        step "installing chromium for the dashboard test: ${SUDO:+$SUDO }apt-get install -y --no-install-recommends chromium"
        $SUDO apt-get update -q >/dev/null || fail "apt-get update failed: cannot install chromium"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null \
            || fail "apt-get install chromium failed: the dashboard test needs /usr/bin/chromium"
        [[ -x /usr/bin/chromium ]] || fail "chromium installed but /usr/bin/chromium is missing"
        step "installed $(/usr/bin/chromium --version)"
    fi
fi

step "checking the stack imports"
"$PY" - <<'PY'
import importlib
for name in ("torch", "mmcv.ops", "mmengine", "mmdet", "mmyolo", "ray.tune", "ray.train", "optuna",
             "mlflow", "pycocotools.coco", "transformers"):
    importlib.import_module(name)
import mmcv, torch
print(f"  torch {torch.__version__}, mmcv {mmcv.__version__}: all imports fine")
PY
step "done: activate with 'source $VENV/bin/activate'"
