"""Plots bench/cpcurves.sh's cpcurves.csv: the control plane against the
number of connected data planes (plan-push time, ingest rate, batch round
trip)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

path, png = sys.argv[1], sys.argv[2]
rows = sorted(csv.DictReader(open(path)), key=lambda r: int(r["dataplanes"]))
n = [int(r["dataplanes"]) for r in rows]

fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
axes[0].plot(n, [float(r["push_p50_ms"]) for r in rows], marker="o", label="p50 of 20 rounds")
axes[0].plot(n, [float(r["push_max_ms"]) for r in rows], marker="s", label="worst round")
axes[0].set_title("plan push: until every data plane has it", fontsize=10)
axes[0].set_ylabel("ms")
axes[1].plot(n, [float(r["ingest_per_s"]) for r in rows], marker="o")
axes[1].set_title("share events stored a second (batches of 1,000)", fontsize=10)
axes[1].set_ylabel("events/s")
axes[1].set_ylim(bottom=0)
axes[2].plot(n, [float(r["batch_p50_ms"]) for r in rows], marker="o", label="p50")
axes[2].plot(n, [float(r["batch_p99_ms"]) for r in rows], marker="s", label="p99")
axes[2].set_title("a batch's round trip (all ship at once)", fontsize=10)
axes[2].set_ylabel("ms")
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("connected data planes")
for ax in (axes[0], axes[2]):
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(png, dpi=90)
