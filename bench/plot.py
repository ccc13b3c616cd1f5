"""Draw the bench's plot; run by bench/run.py in the bench's own environment (matplotlib).

``plot.py DATA.json OUT.png``: DATA is a list of ``{x, time: {label: [..]}, queries:
{label: [..]}}`` (one per section); the floor's series are dashed.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import ScalarFormatter


def main(data_path, out_path):
    sections = json.loads(open(data_path).read())  # noqa: SIM115 - a one-shot script
    figure, (time_axis, query_axis) = plt.subplots(1, 2, figsize=(13, 5.5))
    for section in sections:
        for axis, key in ((time_axis, "time"), (query_axis, "queries")):
            for label, values in section[key].items():
                style = "--" if label.startswith("floor") else "-"
                axis.plot(section["x"], values, style, marker="o", label=label)
    time_axis.set(
        title="Server time per request (p50, simulator's time subtracted)",
        xlabel="cart lines",
        ylabel="ms",
        xscale="log",
        yscale="log",
    )
    query_axis.set(
        title="SQL queries per request (median)",
        xlabel="cart lines",
        ylabel="queries",
        xscale="log",
        ylim=(0, None),
    )
    sizes = sorted({x for section in sections for x in section["x"]})
    for axis in (time_axis, query_axis):
        axis.grid(True, which="both", alpha=0.3)
        axis.set_xticks(sizes)
        axis.xaxis.set_major_formatter(ScalarFormatter())
        axis.yaxis.set_major_formatter(ScalarFormatter())
    handles, labels = time_axis.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize="small")
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    figure.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
