"""Render benchmark results as reports/bench.md plus PNG charts."""
from pathlib import Path


def fmt_ms(ms):
    return f"{ms:,.1f}" if ms >= 10 else f"{ms:.2f}"


def label(result):
    posts = result["posts"]
    return f"{result['database']}, {posts:,} posts"


def tables(meta, results, at_scale=()):
    lines = [
        "# Benchmark",
        "",
        f"{meta['date']}, commit {meta['commit']}; {meta['machine']}.",
        f"Command: `{meta['command']}`; load: {meta['load']}.",
        "Throughput is each endpoint's requests per second over the floor's (a minimal Django view "
        "returning constant JSON, served by the same granian) measured just before it; the median "
        "of the rounds is shown, with the lowest and highest round in brackets.",
        "",
    ]
    staged = [r for r in results if r["stages"]]
    if staged:
        lines += ["## The tutorial's three stages, in-process", "",
                  "| data | stage | queries | latency ms | bytes |", "|---|---|--:|--:|--:|"]
        for r in staged:
            for s in r["stages"]:
                lines.append(f"| {label(r)} | {s['stage']} | {s['queries']:,} | {fmt_ms(s['ms'])} | {s['bytes']:,} |")
        lines += ["", "Stage 3 is one query: the page, each row carrying the count from the counter the "
                  "database's triggers keep exact.", ""]
    with_http = [r for r in results if r["endpoints"]]
    if with_http:
        lines += ["## Endpoints under granian, as a share of the floor", "",
                  "| data | endpoint | req/s | of floor | p50 ms | p90 ms | p99 ms |",
                  "|---|---|--:|--:|--:|--:|--:|"]
        for r in with_http:
            for name, e in r["endpoints"].items():
                share = "100%" if name == "floor" else (
                    f"{e['ratio']:.0%} ({min(e['ratios']):.0%}–{max(e['ratios']):.0%})")
                lines.append(f"| {label(r)} | {e['method']} {e['path']} | {e['rps']:,.0f} | {share} | "
                             f"{fmt_ms(e['p50_ms'])} | {fmt_ms(e['p90_ms'])} | {fmt_ms(e['p99_ms'])} |")
        lines.append("")
    lines += ["## First and deep page, in-process", "",
              "| data | first page ms | offset | deep page ms | deferred join from the near end ms "
              "| plain OFFSET ms | same rows | queries |", "|---|--:|--:|--:|--:|--:|:-:|--:|"]
    for r in results:
        lines.append(
            f"| {label(r)} | {fmt_ms(r['first_page']['ms'])} | {r['deep_offset']:,} | "
            f"{fmt_ms(r['deep_page']['ms'])} | {fmt_ms(r['near_end_deferred_join_page']['ms'])} | "
            f"{fmt_ms(r['plain_offset_page']['ms'])} | "
            f"{'yes' if r['deep_page_equals_plain_offset'] else 'NO'} | {r['deep_page']['queries']} |")
    lines.append("")
    if at_scale:
        lines += ["## First page at scale, side by side", "",
                  "Both databases served at once, their first pages loaded in alternation.", "",
                  "| database | posts | req/s | against the smaller scale |", "|---|---|--:|--:|"]
        for c in at_scale:
            lines.append(f"| {c['database']} | {c['large']:,} vs {c['small']:,} | "
                         f"{c['large_rps']:,.0f} vs {c['small_rps']:,.0f} | "
                         f"{c['ratio']:.0%} ({min(c['ratios']):.0%}–{max(c['ratios']):.0%}) |")
        lines.append("")
    return "\n".join(lines)


# The targets the throughput chart draws, as shares of the floor (docs/performance.md).
SHARE_TARGETS = {"post list": 0.40, "post detail": 0.55}  # issue 13: the goals on the production server
# The app's deep page at a million posts (docs/performance.md).
DEEP_PAGE_TARGET_MS = 25
# Below this, plain OFFSET and the app's walk differ by the noise of a sub-millisecond timing.
DEEP_PAGE_SHOWS = 2


def queries(count):
    return "1 query" if count == 1 else f"{count:,} queries"


def stages_figure(results):
    """One panel per database and scale, on a linear axis: the stages' point is how many times slower."""
    import matplotlib.pyplot as plt

    staged = [r for r in results if r["stages"]]
    fig, axes = plt.subplots(len(staged), 1, figsize=(9, 0.6 + 1.9 * len(staged)), squeeze=False)
    for ax, r in zip(axes[:, 0], staged):
        stages = r["stages"]
        names = [f"{s['stage']}\n{queries(s['queries'])}" for s in stages]
        bars = ax.barh(names, [s["ms"] for s in stages], color="tab:blue")
        ax.bar_label(bars, [f"{fmt_ms(s['ms'])} ms" for s in stages], padding=3, fontsize=8)
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.set_title(label(r), fontsize=9, loc="left")
        ax.tick_params(axis="y", labelsize=8)
    axes[-1, 0].set_xlabel("latency, ms (median of the runs)")
    fig.suptitle("The tutorial's three stages, in-process", fontsize=11)
    fig.tight_layout()
    return fig


def throughput_figure(results):
    """Each endpoint's req/s as a share of its floor's, a group of bars per endpoint, one per run."""
    import matplotlib.pyplot as plt

    with_http = [r for r in results if r["endpoints"]]
    endpoints = [name for name in with_http[0]["endpoints"] if name != "floor"]
    fig, ax = plt.subplots(figsize=(10, 5.2 + 0.15 * len(with_http)))
    width = 0.8 / len(with_http)
    top = 100
    for i, r in enumerate(with_http):
        xs = [n - 0.4 + (i + 0.5) * width for n in range(len(endpoints))]
        figures = [r["endpoints"][e] for e in endpoints]
        shares = [e["ratio"] * 100 for e in figures]
        lows = [share - min(e["ratios"]) * 100 for share, e in zip(shares, figures)]
        highs = [max(e["ratios"]) * 100 - share for share, e in zip(shares, figures)]
        top = max(top, *(share + high for share, high in zip(shares, highs)))
        floor = r["endpoints"]["floor"]["rps"]
        bars = ax.bar(xs, shares, width, yerr=[lows, highs], capsize=2,
                      error_kw={"elinewidth": 0.8, "ecolor": "0.35"},
                      label=f"{label(r)}: floor {floor:,.0f} req/s")
        ax.bar_label(bars, [f"{share:.0f}%" for share in shares], label_type="center",
                     color="white", fontsize=8, fontweight="bold")
    drawn = {name: target for name, target in SHARE_TARGETS.items() if name in endpoints}
    for number, (name, target) in enumerate(drawn.items()):
        n = endpoints.index(name)
        # The line spans its endpoint's group of bars exactly, not its neighbour's.
        ax.hlines(target * 100, n - 0.4, n + 0.4, colors="black", linestyles="dashed", label=None if number else
                  "target: " + ", ".join(f"{name} ≥ {target:.0%}" for name, target in drawn.items()))
    ax.set_xticks(range(len(endpoints)), endpoints, fontsize=8)
    ax.set_xlim(-0.6, len(endpoints) - 0.4)
    ax.set_ylim(0, top * 1.05)
    ax.set_ylabel("% of the floor's req/s")
    ax.set_title("Throughput as a share of a constant-JSON Django view on the same server\n"
                 "(median of the rounds; whiskers: lowest and highest round)", fontsize=10)
    # Below the axes, where no bar can reach it.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def deep_page_shows(results):
    """Whether any run's plain OFFSET page is slow enough beside the app's for the chart to show it."""
    return any(r["plain_offset_page"]["ms"] >= DEEP_PAGE_SHOWS * r["deep_page"]["ms"] for r in results)


def deep_page_figure(results):
    """The deep page three ways, on a log axis: at a million posts they are 1 ms and 300 ms."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.2 + 1.0 * len(results)))
    ys = range(len(results))
    ways = [("plain_offset_page", "plain OFFSET"),
            ("near_end_deferred_join_page", "deferred join from the near end"),
            ("deep_page", "the app (from the nearer end)")]
    for i, (key, name) in enumerate(ways):
        values = [r[key]["ms"] for r in results]
        bars = ax.barh([y + (i - 1) * 0.27 for y in ys], values, 0.27, label=name)
        ax.bar_label(bars, [f"{fmt_ms(v)} ms" for v in values], padding=3, fontsize=8)
    ax.set_yticks(list(ys), [f"{label(r)}\noffset {r['deep_offset']:,}" for r in results], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.margins(x=0.2)
    ax.axvline(DEEP_PAGE_TARGET_MS, color="black", linestyle="dashed",
               label=f"target: the app ≤ {DEEP_PAGE_TARGET_MS} ms")
    ax.set_xlabel("latency, ms (log scale)")
    ax.set_title("A deep page, in-process")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def charts(output, results):
    """Draw the charts the results have something to show on: (file names written, why not the others)."""
    try:
        import matplotlib
    except ImportError:
        return [], ["No charts: matplotlib is missing (pip install -r benchmarks/requirements.txt)."]
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures, skipped = {}, []
    if any(r["stages"] for r in results):
        figures["bench-stages.png"] = stages_figure
    if any(r["endpoints"] for r in results):
        figures["bench-throughput.png"] = throughput_figure
    if deep_page_shows(results):
        figures["bench-deep-page.png"] = deep_page_figure
    else:
        pages = "; ".join(f"{label(r)}: {fmt_ms(r['plain_offset_page']['ms'])} ms against "
                          f"{fmt_ms(r['deep_page']['ms'])} ms" for r in results)
        skipped.append(f"No deep-page chart: plain OFFSET is within {DEEP_PAGE_SHOWS}× the app's deep page "
                       f"at these scales ({pages}); it shows at a million posts "
                       f'(make bench SCALES="5000 1000000").')
    for name, draw in figures.items():
        fig = draw(results)
        fig.savefig(output / name, dpi=110)
        plt.close(fig)
    return list(figures), skipped


def write(output, meta, results, at_scale=()):
    """Write bench.md and its charts: (the tables, the file names written, why a chart was not drawn)."""
    output = Path(output)
    text = tables(meta, results, at_scale)
    images, skipped = charts(output, results)
    (output / "bench.md").write_text(
        text + "\n" + "".join(f"![{name}]({name})\n" for name in images) + "".join(f"\n{note}\n" for note in skipped))
    return text, ["bench.md", *images], skipped
