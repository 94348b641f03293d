"""reports/peers.md: the figures of benchmarks/peers/run.py as tables."""

CPU_PARTS = {"server": "server", "wrk": "wrk", "database": "PostgreSQL", "else": "everything else"}


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def markdown(results):
    meta, endpoints = results["meta"], list(next(iter(results["rps"].values())))
    this_api, *peers = results["rps"]
    parts = {part: name for part, name in CPU_PARTS.items() if part != "database" or meta["database"] == "postgres"}
    sections = [
        "# This API against its peers",
        f"{meta['date']}, commit {meta['commit']}: {meta['posts']:,} posts on {meta['database']}; {meta['machine']}. "
        f"`{meta['command']}`: {meta['load']}, each round every endpoint on every system, the "
        "systems one after another (their order turned each round). Each peer is written as its "
        "framework's docs show (benchmarks/peers/) on the project's models, settings and a copy of "
        "the same database; only its framework's own settings differ.",
        table(["system", "version", "served by"],
              [(system["label"], system["version"], system["served_by"]) for system in results["systems"]]),
    ]
    if results["skipped"]:
        sections.append("Skipped: " + "; ".join(f"{label}: {why}" for label, why in results["skipped"].items()) + ".")
    failed = [run for run in results["runs"] if run["non_2xx"] or run["socket_errors"]]
    if failed:
        sections.append(f"**Warning**: {len(failed)} runs had errors (non-2xx answers or socket errors: the "
                        "last column of the CPU table); their systems' figures are not comparable.")
    sections += [
        "## How many times faster this API is",
        "This API's req/s over the peer's in the same round: the median over the rounds (min–max). "
        "The floor is each system's constant-JSON view: this API's is a plain Django view, "
        "a peer's goes through its framework.",
        table(["peer", *endpoints], [
            (peer, *(f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"
                     for s in results["speedups"][peer].values())) for peer in peers]),
        "## Requests per second",
        "The median over the rounds; in brackets, the share of the system's own floor.",
        table(["system", *endpoints], [
            (label, *(f"{rps[endpoint]:,.0f} ({rps[endpoint] / rps['floor']:.0%})" for endpoint in endpoints))
            for label, rps in results["rps"].items()]),
        "## The same JSON",
        f"Before timing, every peer answered {', '.join(f'`{path}`' for path in results['same_json']['paths'])} "
        f"with {this_api}'s JSON: the same keys, values and order of items, once links are compared "
        "by path and query and datetimes to the millisecond. Each server writes links with its "
        "own host and port; beyond that, where a peer's raw JSON differs (the first example of "
        "each field):",
        "\n".join(f"- {label}: " + "; ".join(f"`{field}` {theirs!r} where {this_api} has {ours!r}"
                                              for field, (ours, theirs) in fields.items())
                  for label, fields in results["same_json"]["forgiven"].items()) or "- none",
        "## CPU per run",
        "Cores kept busy during each run (CPU seconds per second, from /proc): the server's "
        "processes, wrk, " + ("PostgreSQL's processes, " if "database" in parts else "")
        + "and everything else on the machine: other processes, and time the hypervisor gave "
        "elsewhere (the kernel's work on the loopback network counts in the server's and wrk's). "
        "A large share for everything else marks a run that other work disturbed (on runs of a "
        "second or two it may come out a little below 0: the machine's total is sampled at the "
        "kernel's tick, a process's time is exact).",
        table(["round", "endpoint", "system", "req/s", *parts.values(), "non-2xx"], [
            (run["round"], run["endpoint"], run["system"], f"{run['rps']:,.0f}",
             *(f"{run['cores'][part]:.2f}" for part in parts), run["non_2xx"] + run["socket_errors"])
            for run in results["runs"]]),
    ]
    return "\n\n".join(sections) + "\n"
