"""Draw a capacity search's report (reports/capacity.json) as a chart: throughput and p95 by users.

    python loadtests/capacity_chart.py reports/capacity.json reports/capacity.png

`make capacity` runs it after the search. Needs matplotlib (benchmarks/requirements.txt).
"""
import json
import sys


def draw(report, output):
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    steps = report["steps"]
    if not steps:
        raise SystemExit(f"No measured step in the report: nothing to draw. {report['ended']}")
    users = [step["users"] for step in steps]
    rps = [step["rps"] for step in steps]
    p95 = [step["p95_ms"] for step in steps]
    slo_ms = report["options"]["blog_max_response_time"]  # --blog-max-p95-ms
    fig, throughput_axis = plt.subplots(figsize=(9, 5.2))
    latency_axis = throughput_axis.twinx()
    throughput_axis.plot(users, rps, "o-", color="tab:blue", label="throughput (req/s)")
    latency_axis.plot(users, p95, "s--", color="tab:red", label="p95 (ms)")
    latency_axis.axhline(slo_ms, color="tab:red", linewidth=0.8, linestyle=":", label=f"SLO: p95 {slo_ms} ms")
    for step in steps:
        throughput_axis.annotate(f"{step['rps']:,.0f}", (step["users"], step["rps"]), textcoords="offset points",
                                 xytext=(0, 7), ha="center", fontsize=8, color="tab:blue")
        latency_axis.annotate(f"{step['p95_ms']:,} ms", (step["users"], step["p95_ms"]), textcoords="offset points",
                              xytext=(0, 6), ha="center", fontsize=8, color="tab:red")
    if capacity := report["capacity"]:
        throughput_axis.axvline(capacity["users"], color="grey", linewidth=0.8)
        throughput_axis.annotate(
            f"capacity: {capacity['rps']:,.0f} req/s at {capacity['users']} users",
            (capacity["users"], 0), textcoords="offset points", xytext=(-4, 40), ha="right", fontsize=9,
            color="dimgrey")
    last = steps[-1]
    if last["broke"]:
        throughput_axis.plot([last["users"]], [last["rps"]], "x", color="black", markersize=11,
                             label=f"ended here: {shorten(last['broke'])}")
    # The steps grow by a factor, so a log scale spaces them evenly; each is labelled.
    throughput_axis.set_xscale("log")
    throughput_axis.set_xticks(users, [str(count) for count in users], fontsize=8)
    throughput_axis.minorticks_off()
    throughput_axis.set_xlabel("concurrent users, one step each (log scale)")
    throughput_axis.set_ylabel("throughput, requests/s", color="tab:blue")
    latency_axis.set_ylabel("p95 response time, ms", color="tab:red")
    throughput_axis.set_ylim(0, max(rps) * 1.2)
    latency_axis.set_ylim(0, max(max(p95), slo_ms) * 1.25)
    throughput_axis.set_xlim(min(users) / 1.15, max(users) * 1.15)
    handles = throughput_axis.get_legend_handles_labels()
    more = latency_axis.get_legend_handles_labels()
    throughput_axis.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    throughput_axis.set_title(shorten(report["verdict"][0], 110), fontsize=9)
    fig.tight_layout()
    fig.savefig(output, dpi=110)


def shorten(text, width=60):
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as file:
        draw(json.load(file), sys.argv[2])
    print(f"Chart written to {sys.argv[2]}")
