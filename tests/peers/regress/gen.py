"""Generate simulated nightly timing series (JSON) shared by the Python peers and the Rust detector.

Noise model (issue 15): every value = base x N(1, 0.07)  (about +-20 % spread, 3 sigma = 21 %).
Scenarios (one JSON file each, in ./data/):
  noise    : REPS x 15 services x 100 nights of pure noise
  step30   : 200 trials, +30 % step from night t0 on (t0 nights of history before it)
  step15   : 200 trials, +15 % step from night t0 on
  outlier  : 200 trials, a single night t0 multiplied by 1.6, back to normal afterwards
  phase    : 1 service, 5 phases + setup total, +30 % step in phase `load` only (only that series should flag)
Usage: python gen.py [--seed 15] [--t0 30] [--after 14] [--reps 5]
"""
import argparse, json, os
import numpy as np

SIGMA = 0.07
NIGHT = 86400.0
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def stamps(rng, n):
    # nightly runs at ~02:00 UTC with a few minutes of queueing jitter
    return [EPOCH + i * NIGHT + 7200 + float(rng.uniform(0, 900)) for i in range(n)]


def noise(rng, base, n):
    return [float(v) for v in base * rng.normal(1.0, SIGMA, n)]


def series(id_, values, ts, t0=None, kind="noise", **extra):
    return dict(id=id_, values=[round(v, 3) for v in values], timestamps=ts, t0=t0, kind=kind, **extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--t0", type=int, default=30)
    ap.add_argument("--after", type=int, default=14)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--out", default="data")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    # bases >= 60 s so that p*median (10 %) is above the 5 s floor: the floor is a design choice,
    # not what is measured here
    out = {}
    out["noise"] = []
    for rep in range(a.reps):
        for s in range(15):
            base = float(rng.uniform(60, 400))
            out["noise"].append(series(f"noise/r{rep}/svc{s:02}", noise(rng, base, 100), stamps(rng, 100), rep=rep))
    n = a.t0 + a.after
    for name, factor, kind in (("step30", 1.30, "step"), ("step15", 1.15, "step"), ("outlier", 1.60, "outlier")):
        out[name] = []
        for i in range(a.trials):
            base = float(rng.uniform(60, 400))
            v = noise(rng, base, n)
            if kind == "step":
                v = v[: a.t0] + [x * factor for x in v[a.t0 :]]
            else:
                v[a.t0] *= factor
            out[name].append(series(f"{name}/{i:03}", v, stamps(rng, n), t0=a.t0, kind=kind, factor=factor))
    # one service, several phases; +30 % in `load` only; setup = build + cluster + load + deploy
    phases = {"build": 150.0, "cluster": 45.0, "load": 60.0, "deploy": 40.0}
    n = a.t0 + a.after
    vals = {p: noise(rng, b, n) for p, b in phases.items()}
    vals["load"] = vals["load"][: a.t0] + [x * 1.3 for x in vals["load"][a.t0 :]]
    vals["setup"] = [sum(vals[p][i] for p in phases) for i in range(n)]
    ts = stamps(rng, n)
    out["phase"] = [series(f"phase/svc00/{p}", v, ts, t0=a.t0 if p == "load" else None,
                           kind="step" if p == "load" else ("derived" if p == "setup" else "noise"))
                    for p, v in vals.items()]
    for k, v in out.items():
        with open(os.path.join(a.out, f"{k}.json"), "w") as f:
            json.dump({"scenario": k, "params": vars(a), "series": v}, f)
        print(k, len(v), "series")


if __name__ == "__main__":
    main()
