"""reports/story.md and story.png from the story's results (benchmarks/story/run.py)."""


def at_least(result):
    """"at least " when the stage's search stopped at its cap of users with the SLO still met."""
    capacity = result["capacity"]
    return "at least " if capacity and capacity["users"] >= result["capped_at_users"] else ""


def markdown(results, posts, slo_ms, minutes):
    lines = [
        "# The tutorial's story, as load", "",
        f"{posts:,} posts; each stage served by granian, 2 workers, production settings; the same "
        f"Locust scenario (the list, and post details); one SLO: p95 <= {slo_ms} ms. The whole run took "
        f"{minutes:.1f} minutes.", "",
        "| stage | queries a list | capacity | at users | p95 there | the tutorial's run here: p50, p95 "
        "| the tutorial's laptop |",
        "|---|--:|--:|--:|--:|---|---|",
    ]
    for result in results:
        capacity, tutorial = result["capacity"], result["tutorial"]
        found = (f"{at_least(result)}{capacity['rps']:,.1f} req/s | {capacity['users']:,} | {capacity['p95_ms']:,} ms"
                 if capacity
                 else "none within the SLO | | ")
        ran = (f"{tutorial['users']} users: {tutorial['p50_ms']:,} ms, {tutorial['p95_ms']:,} ms"
               if tutorial["requests"] else f"{tutorial['users']} users: no list answered")
        lines.append(f"| {result['stage']}. {result['name']} | {result['queries_per_list']:,} | {found} | {ran} "
                     f"| {result['tutorial_published']} |")
    lines += ["", f"Stage 1's search is capped at {results[0]['capped_at_users']} users (--stage1-max-users): "
              "its list costs one query per post, about a second of server time at 5,000 posts. \"At least\": "
              "the search stopped at its cap of users (--max-users) with the SLO still met.", ""]
    for result in results:
        lines.append(f"- Stage {result['stage']}: {'; '.join(result['verdict']) or 'no verdict'}")
    return "\n".join(lines) + "\n"


def chart(results, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r['stage']}. {r['name']}\n{plural(r['queries_per_list'], 'query', 'queries')} a list"
             for r in results]
    values = [r["capacity"]["rps"] if r["capacity"] else 0 for r in results]
    fig, axis = plt.subplots(figsize=(9, 5))
    bars = axis.bar(names, values, color=["#c44", "#d92", "#59c", "#2a6"][: len(results)])
    for bar, value, result in zip(bars, values, results):
        label = (f"{'≥ ' if at_least(result) else ''}{value:,.1f} req/s\n"
                 f"{plural(result['capacity']['users'], 'user', 'users')}" if result["capacity"]
                 else "none within\nthe SLO")
        axis.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), textcoords="offset points",
                      xytext=(0, 4), ha="center", fontsize=9)
    axis.set_ylabel("capacity, requests/s (linear)")
    axis.set_ylim(0, max(values + [1]) * 1.25)
    axis.set_title("How much load each of the tutorial's fixes buys (Locust's capacity search)", fontsize=10)
    axis.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=110)


def plural(count, one, many):
    return f"{count:,} {one if count == 1 else many}"
