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


def charts(output, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    staged = [r for r in results if r["stages"]]
    if staged:
        fig, ax = plt.subplots(figsize=(8, 3 + 0.4 * len(staged)))
        names, values = [], []
        for r in staged:
            for s in r["stages"]:
                names.append(f"{label(r)}\n{s['stage']}")
                values.append(s["ms"])
        ax.barh(names, values, color="tab:blue")
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("latency, ms (log scale)")
        ax.set_title("The tutorial's three stages, in-process")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(output / "bench-stages.png", dpi=110)
        plt.close(fig)
        written.append("bench-stages.png")
    with_http = [r for r in results if r["endpoints"]]
    if with_http:
        endpoints = [name for name in with_http[0]["endpoints"] if name != "floor"]
        fig, ax = plt.subplots(figsize=(10, 4.5))
        width = 0.8 / len(with_http)
        for i, r in enumerate(with_http):
            xs = [n + i * width for n in range(len(endpoints))]
            ax.bar(xs, [r["endpoints"][e]["ratio"] * 100 for e in endpoints], width, label=label(r))
        for name, target in {"post list": 40, "post detail": 50}.items():
            if name in endpoints:
                n = endpoints.index(name)
                ax.hlines(target, n - 0.1, n + 0.9, colors="black", linestyles="dashed")
        ax.set_xticks([n + 0.4 - width / 2 for n in range(len(endpoints))], endpoints, fontsize=8)
        ax.set_ylabel("% of the floor's req/s")
        ax.set_title("Throughput as a share of a constant-JSON Django view (dashed: targets)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(output / "bench-throughput.png", dpi=110)
        plt.close(fig)
        written.append("bench-throughput.png")
    fig, ax = plt.subplots(figsize=(8, 3 + 0.3 * len(results)))
    names = [f"{label(r)}, offset {r['deep_offset']:,}" for r in results]
    ys = range(len(results))
    ax.barh([y - 0.27 for y in ys], [r["plain_offset_page"]["ms"] for r in results], 0.27, label="plain OFFSET")
    ax.barh(list(ys), [r["near_end_deferred_join_page"]["ms"] for r in results], 0.27,
            label="deferred join from the near end")
    ax.barh([y + 0.27 for y in ys], [r["deep_page"]["ms"] for r in results], 0.27,
            label="the app (from the nearer end)")
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(25, color="black", linestyle="dashed")
    ax.set_xlabel("latency, ms (log scale; dashed: 25 ms)")
    ax.set_title("A deep page, in-process")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(output / "bench-deep-page.png", dpi=110)
    plt.close(fig)
    written.append("bench-deep-page.png")
    return written


def write(output, meta, results, at_scale=()):
    output = Path(output)
    text = tables(meta, results, at_scale)
    images = charts(output, results)
    (output / "bench.md").write_text(text + "\n" + "".join(f"![{name}]({name})\n" for name in images))
    return text
