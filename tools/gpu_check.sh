#!/usr/bin/env bash
# The GPU check: run it once whenever a GPU is available; it takes under 8 minutes on one H200.
#
#   bash tools/gpu_check.sh [out_dir]        # default out_dir: gpu_check/
#
# 1. the notebooks' `#| gpu` cells: FlexAttention in the Transformer and in encode_all (against the chunked CPU path,
#    values and gradients), training on CUDA with bf16 autocast, fused AdamW, exact resume, torch.compile;
# 2. `smt-nb bench` at the reference's sizes (T = 256..4096, d = 256, K = 16, batch 16, bf16): step times of BPTT,
#    truncated BPTT, the cuDNN GRU and SMT (part by part), FLOPs against the GPU's own bf16 matmul rate;
# 3. a short DDP run of `smt-nb train` under torchrun when several GPUs are visible.
# Every step prints its own time; the script exits non-zero if any step failed. Tables go to out_dir too.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu_check}"
mkdir -p "$OUT"
python -c "import torch, sys; ok = torch.cuda.is_available(); print('torch', torch.__version__, '|',
  (torch.cuda.get_device_name(0) + f' x{torch.cuda.device_count()}') if ok else 'no CUDA device'); sys.exit(0 if ok else 1)" || exit 1
status=0
step() {
  local name="$1"; shift
  echo; echo "=== $name"
  local t0=$SECONDS
  "$@" || { echo "FAILED: $name"; status=1; }
  echo "--- $name: $((SECONDS - t0)) s"
}
step "gpu cells of the notebooks" env SMT_NB_TEST_FLAGS=gpu python -m pytest -q -x tests/test_notebooks.py \
  -k "01_transformer or 02_teacher or 08_train"
step "bench at the reference's sizes" smt-nb bench --device cuda --gpu-sizes --out "$OUT/bench_gpu.json"
step "bench at the CPU sizes, on the GPU (fp32)" smt-nb bench --device cuda --seq-len 64,256,1024 --out "$OUT/bench_gpu_small.json"
NGPU=$(python -c "import torch; print(torch.cuda.device_count())")
if [ "$NGPU" -ge 2 ]; then
  step "DDP: smt-nb train on $NGPU GPUs" torchrun --standalone --nproc_per_node "$NGPU" "$(command -v smt-nb)" train \
    --method smt --steps 60 --seq-len 256 --batch-size 16 --eval-every 30 --device cuda --quiet --out "$OUT/ddp_run"
else
  echo; echo "=== DDP: one GPU visible, skipped (the CPU/gloo DDP test in 08_train runs everywhere)"
fi
echo; [ $status -eq 0 ] && echo "GPU check passed" || echo "GPU check FAILED"
exit $status
