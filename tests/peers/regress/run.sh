#!/usr/bin/env bash
# The peer comparison of `hybrid-e2e regress` (issue 15): E-Divisive means (MongoDB's
# signal-processing-algorithms) and Apache Otava against our detector, on the same simulated
# series (gen.py), night by night; evaluate.py scores all three alike. Manual, not CI: about
# 15 minutes on 2 cores (E-Divisive is the slow part), and signal-processing-algorithms needs
# Python 3.11 (>=3.11,<3.12: Debian 12's python3). CI runs the Rust test
# `regress::stats::tests::against_e_divisive_and_otava_on_the_same_series`, which replays our
# detector on the series and peer events this script exports (EXPORT=1) to
# tests/fixtures/regress/peers/.
#   bash tests/peers/regress/run.sh            # the comparison table
#   EXPORT=1 bash tests/peers/regress/run.sh   # ... and refresh the CI fixtures
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${WORK:-$root/target/regress-peers}
python=${PYTHON:-python3.11}
mkdir -p "$work"
if [[ ! -x $work/venv/bin/python ]]; then
    "$python" -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet -r "$here/requirements.txt"
    "$work/venv/bin/pip" install --quiet --no-deps apache-otava==0.8.0
fi
py=$work/venv/bin/python
# The replay is `benches/regress.rs --replay` (BENCH=path skips the build).
bench=${BENCH:-$(cd "$root" && CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo bench --bench regress --no-run --message-format=json |
    "$py" -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable") and m["target"]["name"] == "regress"][-1])')}
cd "$work"
"$py" "$here/gen.py"                              # data/: 30 nights before the change, 200 trials, 5 noise fleets
"$py" "$here/gen.py" --t0 60 --reps 1 --out data60  # data60/: 60 nights before it
echo '{"window": 14}' > params-window14.json
for d in ours ours-window14; do mkdir -p flags/$d flags60/$d; done
for sc in noise step30 step15 outlier phase; do
    "$bench" --replay data/$sc.json > flags/ours/$sc.json
    "$bench" --replay data/$sc.json params-window14.json > flags/ours-window14/$sc.json
    "$bench" --replay data60/$sc.json > flags60/ours/$sc.json
    "$bench" --replay data60/$sc.json params-window14.json > flags60/ours-window14/$sc.json
done
"$py" "$here/peers.py" otava
"$py" "$here/peers.py" edivisive
DATA=data60 FLAGS=flags60 "$py" "$here/peers.py" otava step15 step30 outlier
DATA=data60 FLAGS=flags60 "$py" "$here/peers.py" edivisive step15 step30 outlier
"$py" "$here/evaluate.py" edivisive otava ours ours-window14
DATA=data60 FLAGS=flags60 "$py" "$here/evaluate.py" edivisive otava ours ours-window14
if [[ ${EXPORT:-0} == 1 ]]; then
    "$py" "$here/export.py" "$root/tests/fixtures/regress/peers"
fi
