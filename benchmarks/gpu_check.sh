#!/usr/bin/env bash
# The GPU checks of a trial, in one run on a bare GPU machine (the lent device machine):
# mmcv 2.0.1 built with its CUDA ops, then one size-S trial through Ray Tune + Ray Train (NCCL),
# the speed lane's FPS repeatability (fp16 weights, CUDA events, a CUDA graph where the model
# captures; target CV <= 1 %) and the training throughput of YOLO-World against YOLOv8 on that
# card, with the costliest CUDA operators of each (train_profile; its log holds the tables).
#
# usage: bash benchmarks/gpu_check.sh BUNDLE OUT [STEP...]
#   BUNDLE: made by shared/tools/device_bundle.sh (Ray, OpenMMLab, pycocotools wheels, mmcv source)
#   OUT:    where the logs and the benchmarks/results/*_gpu.md of this run are copied
#   STEP:   trial, fps_repeatability, train_throughput, train_profile (default: all, in that order)
# Steps are time-boxed so the whole run stays inside one 10-minute device call; each step's log
# goes to OUT as soon as it ends, so a timeout still leaves the finished steps' figures.
set -uo pipefail
BUNDLE=$(realpath "${1:?usage: gpu_check.sh BUNDLE OUT}"); OUT=$(realpath "${2:?usage: gpu_check.sh BUNDLE OUT}")
shift 2; STEPS=" ${*:-trial fps_repeatability train_throughput train_profile} "
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

step() {  # step NAME SECONDS COMMAND...: run, time-boxed, log to OUT/NAME.log, say how it ended
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    echo "[gpu_check] $name: exit $rc after $((SECONDS - start)) s"
    tail -n 25 "$OUT/$name.log"
    cp "$REPO"/benchmarks/results/*_gpu.md "$OUT"/ 2>/dev/null
    return $rc
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"

python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$BUNDLE"/wheels/*.whl || exit 1
tar xJf "$BUNDLE/ray.tar.xz" -C /tmp/site || exit 1
tar xzf "$BUNDLE/mmcv-2.0.1-c++17.tar.gz" -C /tmp || exit 1
export PYTHONPATH=/tmp/site
arch=$(python3 -c "import torch; print('.'.join(map(str, torch.cuda.get_device_capability())))")
# the demo set and text encoder are written while mmcv compiles
PYTHONPATH=$REPO:/tmp/site python3 -c "from search.datasets import default_data_root, ensure_demo_dataset
from search.datasets.demo_text_encoder import ensure_demo_text_encoder
ensure_demo_dataset('demo-defects'); ensure_demo_text_encoder(default_data_root())" >/tmp/demo_data.log 2>&1 &
cd /tmp/mmcv-2.0.1 || exit 1
step mmcv_build 300 env MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS="$(nproc)" \
    python3 setup.py build_ext --inplace || exit 1
cd "$REPO" || exit 1
wait; echo "[gpu_check] demo data:"; tail -n 5 /tmp/demo_data.log
export PYTHONPATH=/tmp/mmcv-2.0.1:$REPO:/tmp/site
step cuda_nms 60 python3 -c "
import torch
from mmcv.ops import nms
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], dtype=torch.float32, device='cuda')
kept, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7], device='cuda'), 0.5)
assert keep.is_cuda and keep.tolist() == [0, 2], keep
print('mmcv CUDA nms ok on', torch.cuda.get_device_name(0))" || exit 1

[[ $STEPS == *" trial "* ]] && step trial 200 python3 benchmarks/trial_on_device.py --size s --image-size 640 --epochs 3 --batch-size 16
[[ $STEPS == *" fps_repeatability "* ]] && step fps_repeatability 150 python3 benchmarks/fps_repeatability.py --size s --image-size 640 --repeats 10
[[ $STEPS == *" train_throughput "* ]] && step train_throughput 120 python3 benchmarks/train_throughput.py --size s --image-size 640 --batch-size 16
[[ $STEPS == *" train_profile "* ]] && step train_profile 150 python3 benchmarks/train_throughput.py --size s --image-size 640 --batch-size 16 --profile-iters 5
ls "$OUT"
