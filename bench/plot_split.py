"""Plots bench/split.sh's scenarios: each pool's part of the last hour's
accepted difficulty, minute by minute, against its weight."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out, png = sys.argv[1], sys.argv[2]
names = [
    ("mixed-70-30", "1,000 mixed miners, 70/30"),
    ("mixed-98-2", "1,000 mixed miners, 98/2"),
    ("big80-70-30", "one miner with 80% of the work + 20, 70/30"),
    ("three-50-30-20", "1,000 mixed miners, 50/30/20"),
    ("down-70-30", "70/30, pool 1 down from minute 80 to 100"),
]
fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.6 * len(names)), sharex=True)
for ax, (name, title) in zip(axes, names):
    with open(f"{out}/{name}.csv") as f:
        rows = list(csv.DictReader(f))
    minutes = [int(r["minute"]) for r in rows]
    pools = sorted({k.split("_")[1] for k in rows[0] if k.startswith("achieved_")})
    for p in pools:
        line, = ax.plot(minutes, [float(r[f"achieved_{p}"]) for r in rows], label=f"pool {p} achieved")
        ax.plot(minutes, [float(r[f"target_{p}"]) for r in rows], linestyle="--",
                color=line.get_color(), label=f"pool {p} weight")
    ax.axvline(60, color="grey", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("% of last hour")
    ax.legend(fontsize=7, loc="center right")
axes[-1].set_xlabel("simulated minute (the grey line: the first hour is full)")
fig.tight_layout()
fig.savefig(png, dpi=80)
