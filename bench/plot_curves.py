"""Plots bench/curves.sh's curves.csv: the data plane's cost against the
number of miners (CPU a share and added latency at a fixed rate, memory
per idle miner, fan-out time)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

path, rate, png = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = list(csv.DictReader(open(path)))


def curve(name):
    pts = sorted((int(r["miners"]), r) for r in rows if r["curve"] == name)
    return [p[0] for p in pts], [p[1] for p in pts]


fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
n, r = curve("latency_p50_us")
ax = axes[0]
ax.plot(n, [int(x["via_dp"]) - int(x["direct"]) for x in r], marker="o", label="added p50 (µs)")
ax.set_xscale("log")
ax.set_xlabel("miners")
ax.set_ylabel("added p50, µs")
ax2 = ax.twinx()
ax2.plot(n, [float(x["dp_cores"]) * 1e6 / rate for x in r], marker="s", color="tab:red",
         label="data-plane CPU (µs a share)")
ax2.set_ylabel("CPU µs a share", color="tab:red")
ax.set_title(f"{rate:,} shares/s in all, spread over the miners", fontsize=10)
ax.legend(loc="upper left", fontsize=8)
ax2.legend(loc="upper right", fontsize=8)

n, r = curve("idle_bytes")
axes[1].plot(n, [int(x["via_dp"]) for x in r], marker="o")
axes[1].axhline(1536, color="grey", linestyle="--", label="target 1,536 B")
axes[1].set_xlabel("idle miners")
axes[1].set_ylabel("data-plane RSS per miner, bytes")
axes[1].set_ylim(bottom=0)
axes[1].legend(fontsize=8)
axes[1].set_title("memory per idle SHA-256 miner", fontsize=10)

n, r = curve("fanout_ms")
axes[2].plot(n, [float(x["direct"]) for x in r], marker="o", label="the pool's own (direct)")
axes[2].plot(n, [float(x["via_dp"]) for x in r], marker="s", label="via the data plane")
axes[2].set_xlabel("miners")
axes[2].set_ylabel("ms until every miner has the job (median)")
axes[2].legend(fontsize=8)
axes[2].set_title("fan-out of one new job", fontsize=10)
fig.tight_layout()
fig.savefig(png, dpi=90)
