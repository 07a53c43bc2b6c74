#!/bin/bash
# Validation draw (seed 3000001, not the reported 2000003): how long should the model fill hold the gap?
set -e
cd "$(dirname "$0")/../../.."
source .venv/bin/activate
export OMP_NUM_THREADS=2
wait_idle() { while :; do l=$(cut -d' ' -f1 /proc/loadavg); python -c "import sys; sys.exit(0 if $l < 1.5 else 1)" && break; sleep 15; done; echo "$(date +%T) load $(cat /proc/loadavg)"; }
B="python -u benchmarks/bcdi_phasing.py --model hifft/bcdi/models/inpaint_3d.pt --n 12 --seed 3000001"
wait_idle
$B --methods masked --out benchmarks/results/bcdi_phasing_val/phasing_val_masked.json
for r in 100 200 300 400 600 700; do
  $B --methods model_guided --release-fill $r --out benchmarks/results/bcdi_phasing_val/phasing_val_release$r.json
done
echo "$(date +%T) sweep done"
