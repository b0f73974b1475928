"""Export the simulated series and the peers' events to tests/fixtures/regress/peers/ (values and
change nights only; the CI check replays our detector on them and compares with the recorded peers).
Usage (from the work directory of run.sh): python export.py OUT_DIR"""
import json, os, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for data, flags, name in (("data", "flags", "t0-30"), ("data60", "flags60", "t0-60")):
    series, peers = {}, {}
    for sc in ("noise", "step30", "step15", "outlier", "phase"):
        f = json.load(open(f"{data}/{sc}.json"))
        series[sc] = [{"id": s["id"], "t0": s["t0"], "values": s["values"]} for s in f["series"]]
    for det in ("edivisive", "otava"):
        peers[det] = {}
        for sc in ("noise", "step30", "step15", "outlier", "phase"):
            path = f"{flags}/{det}/{sc}.json"
            if os.path.exists(path):
                f = json.load(open(path))
                peers[det][sc] = [[[e["night"], e["index"], e["direction"]] for e in s["events"]] for s in f["series"]]
    doc = {"generated_by": f"gen.py (seed 15, {name}) and peers.py", "series": series, "peers": peers}
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"{out}/{name}.json", os.path.getsize(f"{out}/{name}.json"), "bytes")
