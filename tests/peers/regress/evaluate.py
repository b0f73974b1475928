"""Score the detectors' events on the simulated series (same series for every detector).

Definitions (night t0 = first changed night; a detector at night t saw values[0..=t]):
  detection  : first event with night >= t0, direction up and change index >= t0 - 2
  delay      : detection night - t0 (0 = flagged on the first changed night)
  miss       : no detection by the last simulated night (t0 + after - 1); also "not within 7 nights"
  false alarm: any event (either direction) on a pure-noise series; "up" counts regressions only
  outlier    : any event with night >= t0 and index >= t0 - 2 (either direction) is a flag
Usage: python evaluate.py [DETECTOR...]   (default: edivisive otava ours ours-threshold)
"""
import json, os, sys
import numpy as np

DATA = os.environ.get("DATA", "data")
FLAGS = os.environ.get("FLAGS", "flags")


def load(det, sc):
    p = f"{FLAGS}/{det}/{sc}.json"
    return json.load(open(p)) if os.path.exists(p) else None


def score(det):
    data = {sc: json.load(open(f"{DATA}/{sc}.json")) for sc in ("noise", "step30", "step15", "outlier", "phase")}
    r = {"detector": det}
    f = load(det, "noise")
    if f:
        per_rep = {}
        ups = 0
        for s, ev in zip(data["noise"]["series"], f["series"]):
            per_rep.setdefault(s["rep"], 0)
            per_rep[s["rep"]] += len(ev["events"])
            ups += sum(e["direction"] == "up" for e in ev["events"])
        reps = len(per_rep)
        r["noise_fa_rep0"] = per_rep[0]
        r["noise_fa_mean"] = sum(per_rep.values()) / reps
        r["noise_fa_up_mean"] = ups / reps
        r["noise_reps"] = reps
    for sc in ("step30", "step15"):
        f = load(det, sc)
        if not f:
            continue
        delays = []
        for s, ev in zip(data[sc]["series"], f["series"]):
            t0, n = s["t0"], len(s["values"])
            d = [e["night"] - t0 for e in ev["events"]
                 if e["night"] >= t0 and e["direction"] == "up" and e["index"] >= t0 - 2]
            delays.append(min(d) if d else np.inf)
        delays = np.array(delays)
        found = delays[np.isfinite(delays)]
        r[f"{sc}_delay_median"] = float(np.median(delays))
        r[f"{sc}_delay_mean_found"] = float(found.mean()) if len(found) else None
        r[f"{sc}_delay_p90"] = float(np.percentile(delays, 90))
        r[f"{sc}_within7"] = float(np.mean(delays <= 7))
        r[f"{sc}_miss"] = float(np.mean(~np.isfinite(delays)))
        r[f"_{sc}_delays"] = delays
    f = load(det, "outlier")
    if f:
        flagged = 0
        for s, ev in zip(data["outlier"]["series"], f["series"]):
            t0 = s["t0"]
            flagged += any(e["night"] >= t0 and e["index"] >= t0 - 2 for e in ev["events"])
        r["outlier_flag_rate"] = flagged / len(f["series"])
    f = load(det, "phase")
    if f:
        r["phase_events"] = {s["id"].split("/")[-1]: [(e["night"], e["direction"]) for e in ev["events"]]
                             for s, ev in zip(data["phase"]["series"], f["series"])}
    return r


def main():
    dets = sys.argv[1:] or ["edivisive", "otava", "ours", "ours-threshold"]
    rs = [score(d) for d in dets]
    keys = [k for k in rs[0] if not k.startswith("_") and k not in ("detector", "phase_events")]
    for r in rs[1:]:
        keys += [k for k in r if k not in keys and not k.startswith("_") and k not in ("detector", "phase_events")]
    print(f"{'metric':26}" + "".join(f"{r['detector']:>16}" for r in rs))
    for k in keys:
        cells = []
        for r in rs:
            v = r.get(k)
            cells.append(f"{v:16.3f}" if isinstance(v, float) else f"{str(v):>16}")
        print(f"{k:26}" + "".join(cells))
    for r in rs:
        if "phase_events" in r:
            print(r["detector"], "phase events:", r["phase_events"])
    # paired comparison with E-Divisive on the same series
    base = next((r for r in rs if r["detector"] == "edivisive"), None)
    if base:
        for r in rs:
            for sc in ("step30", "step15"):
                if f"_{sc}_delays" in r and f"_{sc}_delays" in base:
                    ok = np.mean(r[f"_{sc}_delays"] <= base[f"_{sc}_delays"] + 1)
                    print(f"{r['detector']}: {sc} delay <= edivisive + 1 night in {ok:.1%} of trials (paired)")


if __name__ == "__main__":
    main()
