"""Run the peer change-point detectors online (night by night) on the simulated series.

For every night t >= START the detector sees only values[0..=t] (what a nightly job would see) and
reports change points. An *event* is a change-point index reported for the first time (indices within
+-2 of one reported on an earlier night are the same event; this is the kindest counting for the peers).
Output: flags/<detector>/<scenario>.json = {"detector", "scenario", "series": [{"id", "events": [
{"night", "index", "direction"}]}]}

Detectors (defaults read from the installed sources):
  edivisive : signal_processing_algorithms.energy_statistics.energy_statistics.e_divisive(series,
              pvalue=0.05, permutations=100); numpy RNG seeded per call (deterministic_numpy_random)
  otava     : otava.analysis.compute_change_points(series, window_len=50, max_pvalue=0.001,
              min_magnitude=0.0)  (AnalysisOptions defaults of otava.series)
Usage: python peers.py DETECTOR [SCENARIO...]
"""
import json, os, sys, time
import numpy as np

START = 7
DATA = os.environ.get("DATA", "data")
FLAGS = os.environ.get("FLAGS", "flags")
SEED = 1234


def edivisive(values, pvalue=0.05, permutations=100):
    from signal_processing_algorithms.determinism import deterministic_numpy_random
    from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive
    with deterministic_numpy_random(SEED):
        return sorted(e_divisive(values, pvalue=pvalue, permutations=permutations))


def otava(values, window_len=50, max_pvalue=0.001, min_magnitude=0.0):
    from otava.analysis import compute_change_points
    cps, _ = compute_change_points(list(values), window_len=window_len, max_pvalue=max_pvalue,
                                   min_magnitude=min_magnitude)
    return sorted(cp.index for cp in cps)


DETECTORS = {
    "edivisive": edivisive,
    "otava": otava,
    # sensitivity variants (not the defaults)
    "edivisive-p01": lambda v: edivisive(v, pvalue=0.01),
    "otava-p01": lambda v: otava(v, max_pvalue=0.01),
}


def direction(values, idx):
    before = values[max(0, idx - 7):idx]
    after = values[idx:idx + 7]
    if not before or not after:
        return "up"
    return "up" if np.median(after) > np.median(before) else "down"


def run_series(fn, values, t0=None):
    # step/outlier trials: nights before t0-2 cannot report an index near t0, so they are skipped
    # (saves time; pre-change false alarms are measured on the noise scenario)
    start = START if t0 is None else max(START, t0 - 2)
    events, seen = [], []
    for t in range(start, len(values)):
        prefix = values[: t + 1]
        for idx in fn(prefix):
            if any(abs(idx - s) <= 2 for s in seen):
                continue
            seen.append(idx)
            events.append(dict(night=t, index=int(idx), direction=direction(prefix, idx)))
    return events


def main():
    det = sys.argv[1]
    scenarios = sys.argv[2:] or ["noise", "step30", "step15", "outlier", "phase"]
    fn = DETECTORS[det]
    os.makedirs(f"{FLAGS}/{det}", exist_ok=True)
    for sc in scenarios:
        data = json.load(open(f"{DATA}/{sc}.json"))
        t = time.time()
        res = [dict(id=s["id"], events=run_series(fn, s["values"], s["t0"] if sc != "phase" else None)) for s in data["series"]]
        json.dump(dict(detector=det, scenario=sc, series=res), open(f"{FLAGS}/{det}/{sc}.json", "w"))
        print(det, sc, f"{time.time() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
