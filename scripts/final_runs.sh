#!/usr/bin/env bash
# The runs whose figures docs/measurements.md, the README and reports/ quote, in order (each step's command is what reproduces it).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
STEP=${1:-all}
chrome() { chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" --hide-scrollbars "$@"; }

if [[ $STEP == all || $STEP == demo ]]; then
  make demo 2>&1 | tail -25
  smotext-private verify out/demo-release
  chrome --screenshot=reports/example-report.png --window-size=1200,3000 "file://$PWD/out/demo-release/report.html" 2>/dev/null
fi
if [[ $STEP == all || $STEP == fortunes ]]; then
  python scripts/fortunes_csv.py --fortunes data/debian/usr/share/games/fortunes --out data/fortunes4.csv
  smotext-private release data/fortunes4.csv --text-column text --label-column label --out out/fortunes-release \
    --force --policy standard --seed 0 --no-progress || echo "release exit code $?"
fi
if [[ $STEP == all || $STEP == fortunes-lam ]]; then
  # the same release with every target away from both parents
  smotext-private release data/fortunes4.csv --text-column text --label-column label --out out/fortunes-release-lam \
    --force --policy standard --seed 0 --lambda-range 0.2 0.8 --no-progress || echo "release exit code $?"
fi
if [[ $STEP == all || $STEP == fidelity ]]; then
  python scripts/eval_fidelity.py --bridge smotext_private/assets/bridge-minilm-smollm2 --variant "${VARIANT:-shipped}" --candidates 1 4 --limit 64
fi
if [[ $STEP == all || $STEP == membership ]]; then
  # 240 more notes of the same population (another seed) that the release never saw: a tighter estimate
  smotext-private demo-data --out data/demo_extra.csv --per-class 40 --seed 1
  # 240 more that neither the release nor the non-members include: chance's yardstick for one release's AUC
  smotext-private demo-data --out data/demo_reference.csv --per-class 40 --seed 2
  # the same release with seeds 1-3 (another split, other records each), for the spread between releases
  mkdir -p out/seeds
  for s in 1 2 3; do
    smotext-private release data/demo_notes.csv --text-column text --label-column label --out out/seeds/demo-s$s \
      --force --per-class 24 --seed $s --fidelity-sample 0 --templates smotext_private/assets/demo_templates.txt --no-progress \
      || echo "release exit code $?"
  done
  python -m audits.membership --bundle out/demo-release --sources data/demo_notes.csv --text-column text --label-column label \
    --extra-nonmembers data/demo_extra.csv --reference data/demo_reference.csv \
    --more-bundles out/seeds/demo-s1 out/seeds/demo-s2 out/seeds/demo-s3 \
    --distance-sweep 2 10 30 50 70 --by-parent-uses --out reports/membership.md
fi
if [[ $STEP == all || $STEP == membership-noguard ]]; then
  # the demo release without the parent guard, and the same attacks on it
  smotext-private release data/demo_notes.csv --text-column text --label-column label --out out/demo-release-noguard \
    --force --per-class 24 --seed 0 --templates smotext_private/assets/demo_templates.txt --no-parent-guard --no-progress
  python -m audits.membership --bundle out/demo-release-noguard --sources data/demo_notes.csv --text-column text \
    --label-column label --extra-nonmembers data/demo_extra.csv --reference data/demo_reference.csv --by-parent-uses \
    --out reports/membership-noguard.md
fi
if [[ $STEP == all || $STEP == defences ]]; then
  python -m audits.membership.defences --sources data/demo_notes.csv --extra-nonmembers data/demo_extra.csv --draws 2 \
    --out reports/membership-defences.md
fi
if [[ $STEP == all || $STEP == leak-audit ]]; then
  # the leak-injection suite against the audit under strict (needs `make fortunes` for the corpus and WordNet)
  python -m audits.leak_injection --corpus demo,fortunes --n 250 --per-kind 80 --seed 0 --out reports/leak-audit.md
fi
