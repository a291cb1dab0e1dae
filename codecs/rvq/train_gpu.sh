#!/usr/bin/env bash
# A prepared GPU run (one ~9-minute call on the device machine). It produced the first shipped
# checkpoint (a SEANet model, commit 19916a5); the current one trained on the CPU (MODEL_CARD.md),
# and this script fine-tunes it, so it is the next GPU run, ready to go.
#
# Two runs share the GPU side by side, the same data, both from the shipped checkpoint, both with
# the multi-scale STFT discriminator (switched on after RVQ_DISC_START steps): `gan` keeps the
# decoder as it is, `harmonic-gan` adds the harmonic path (evalkit/codecs/rvq/harmonic.py), which
# a CPU run could not train far enough (MODEL_CARD.md, experiments 7 and 8). RVQ_VARIANTS picks others
# (`plain`: no discriminator); RVQ_SERIAL=1 runs them one after the other (a CPU try). Each stops
# by wall clock after RVQ_MINUTES and exports OUT/<variant>-model.pt (split into 15 MB parts for
# the trip back) and its loss log. Run from the repository root with the training set in
# .traindata/ and the soundfile wheels in .whl/ (the device machine has torch but not soundfile).
set -uo pipefail
DEVICE=${RVQ_DEVICE:-cuda}
MINUTES=${RVQ_MINUTES:-7.5}
DISC_START=${RVQ_DISC_START:-1500}
BATCH=${RVQ_BATCH:-32}
VARIANTS=${RVQ_VARIANTS:-gan harmonic-gan}
OUT=${OUT:-/tmp/rvq-out}
mkdir -p "$OUT"
if ! python3 -c "import soundfile" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
python3 -c "import torch; print('torch', torch.__version__)"
for variant in $VARIANTS; do
  python3 - "$variant" "$DEVICE" "$MINUTES" "$DISC_START" "$BATCH" >"/tmp/rvq-$variant.log" 2>&1 <<'PY' &
import sys

from evalkit.codecs.rvq.model import ModelConfig
from evalkit.codecs.rvq.train import TrainConfig, train

variant, device, minutes = sys.argv[1], sys.argv[2], float(sys.argv[3])
disc_start, batch = int(sys.argv[4]), int(sys.argv[5])
cfg = TrainConfig(
    data=(".traindata",),
    out=f"/tmp/rvq-{variant}",
    steps=200_000,  # the wall clock ends the run; the LR schedule follows it
    batch_size=batch,
    device=device,
    discriminator="stft" if variant.endswith("gan") else "none",
    discriminator_start=disc_start,
    init="codecs/rvq/rvq.pt",
    model=ModelConfig(harmonic=variant.startswith("harmonic")),
    max_minutes=minutes,
    checkpoint_every=5000,
    log_every=100,
)
print(train(cfg, show_progress=False))
PY
  [ -n "${RVQ_SERIAL:-}" ] && wait
done
wait
for variant in $VARIANTS; do
  echo "== $variant"; tail -n 3 "/tmp/rvq-$variant.log"; tail -n 2 "/tmp/rvq-$variant/log.csv"
  if [ -f "/tmp/rvq-$variant/model.pt" ]; then
    split -b 15M -d "/tmp/rvq-$variant/model.pt" "$OUT/$variant-model.pt.part"
    sha256sum "/tmp/rvq-$variant/model.pt"
  fi
  cp "/tmp/rvq-$variant/log.csv" "$OUT/$variant-log.csv"
done
ls -la "$OUT"
