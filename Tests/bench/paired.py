"""Paired ratios from a drive.py JSON summary: for each configuration, each repetition's figure
divided by the C relay's figure in the same repetition, and the median of those ratios (the
configurations of one repetition ran back to back, so machine noise hits a pair alike).
Usage: paired.py build/bench.json [--against c-relay]"""
import argparse
import json
import statistics

METRICS = [("lat p50", ("latency", "p50_us"), "lower"), ("lat p99", ("latency", "p99_us"), "lower"),
           ("thr msg/s", ("throughput", "msgs_per_s"), "higher"), ("large MB/s", ("large", "resp_mb_per_s"), "higher")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--against", default="c-relay")
    a = ap.parse_args()
    results = json.load(open(a.json))["results"]
    base = {r["rep"]: r for r in results[a.against]}
    print(f"\npaired ratios against {a.against} (median over repetitions of this rep's figure / {a.against}'s)")
    print(f"  {'config':<14}" + "".join(f"{name:>12}" for name, _, _ in METRICS) + "   reps")
    for config, reps in results.items():
        row = []
        for _, (phase, key), _ in METRICS:
            ratios = [r[phase][key] / base[r["rep"]][phase][key] for r in reps
                      if phase in r and phase in base.get(r["rep"], {}) and base[r["rep"]][phase].get(key)]
            row.append(f"{statistics.median(ratios):>11.2f}x" if ratios else f"{'-':>12}")
        print(f"  {config:<14}" + "".join(row) + f"   {len(reps)}")
    print("  (latency: lower is better; msg/s and MB/s: higher is better)")


if __name__ == "__main__":
    main()
