#!/usr/bin/env bash
# Second GPU stage of the shipped checkpoint: fine-tune codecs/rvq/rvq.pt (the 7.3-minute run of
# train_gpu.sh, variant "plain") with the complex-STFT loss that ties the output's phase to the
# input's. Only 484 s of the training set fit beside the repository on the trip to the device
# (.traindata_ft/: a fixed random subset of .traindata/ of about 5.7 MB), so the learning rate is
# low. Exports OUT/finetune-model.pt (in 15 MB parts) and its loss log.
set -uo pipefail
DEVICE=${RVQ_DEVICE:-cuda}
MINUTES=${RVQ_MINUTES:-3.2}
OUT=${OUT:-/tmp/rvq-out}
mkdir -p "$OUT"
if ! python3 -c "import soundfile" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
python3 - "$DEVICE" "$MINUTES" <<'PY'
import sys

from evalkit.codecs.rvq.train import TrainConfig, train

cfg = TrainConfig(
    data=(".traindata_ft",),
    out="/tmp/rvq-finetune",
    steps=200_000,  # the wall clock ends the run; the LR schedule follows it
    batch_size=32,
    lr=1e-4,
    warmup_steps=100,
    device=sys.argv[1],
    discriminator=False,
    init_from="codecs/rvq/rvq.pt",
    max_minutes=float(sys.argv[2]),
    checkpoint_every=100_000,
    log_every=100,
)
print(train(cfg, show_progress=False))
PY
tail -n 4 /tmp/rvq-finetune/log.csv
split -b 15M -d /tmp/rvq-finetune/model.pt "$OUT/finetune-model.pt.part"
cp /tmp/rvq-finetune/log.csv "$OUT/finetune-log.csv"
sha256sum /tmp/rvq-finetune/model.pt
