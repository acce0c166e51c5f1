"""The summary (report): Markdown built from the results file, one function per section.
Each section returns its lines; a section with nothing to show returns none (the figures
and targets sections always end with an empty line)."""
from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

from . import results


class Runs:
    """The records of one results file: the meta record, the wrk runs, and look-ups."""

    def __init__(self, recs: list[dict]):
        self.recs = recs
        self.meta = next((r for r in recs if r.get("kind") == "meta"), {})
        self.wrk = [r for r in recs if r.get("kind") == "wrk"]

    def of_kind(self, kind: str) -> list[dict]:
        return [r for r in self.recs if r.get("kind") == kind]

    def find(self, label):
        """The last wrk run with this label, or None."""
        for r in reversed(self.wrk):
            if r["label"] == label:
                return r
        return None

    def refs(self, prefix: str) -> dict:
        """The reference runs "<prefix> c64" and "<prefix> c256" by connection count."""
        return {c: self.find(f"{prefix} c{c}") for c in (64, 256)}


def _fmt_ms(v):
    return "—" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}")


def _ratio(a, b):
    return "—" if not a or not b else f"{a / b:.0%}" if a / b < 10 else f"{a / b:.1f}×"


def _cpu_columns(r: dict, meta: dict) -> tuple[str, float]:
    """A load run's "workers (kernel) / nginx / memcached / upstream / wrk" CPU µs per request,
    and the share of the machine other processes used during it."""
    n = max(r["requests"], 1)
    cpu = r["cpu_s"]
    sysc = r.get("sys_cpu_s", {})
    per = (f"{cpu.get('workers', 0) / n * 1e6:.0f} ({sysc.get('workers', 0) / n * 1e6:.0f}) / "
           + " / ".join(f"{cpu.get(k, 0) / n * 1e6:.0f}" for k in ("nginx", "memcached", "upstream"))
           + f" / {(r.get('wrk_cpu_s') or 0) / n * 1e6:.0f}")
    other = r.get("foreign_cpu_s", 0) / max(r["wall_s"], 0.001) / (meta.get("nproc") or 2)
    return per, other


# ---------------------------------------------------------------- sections

def header(runs: Runs) -> list[str]:
    meta = runs.meta
    out = []
    w = out.append
    w(f"# ChittyCharge benchmark results ({meta.get('date', '?')})\n")
    w(f"- command: `{meta.get('command', 'bash bench/run.sh')}`")
    w(f"- machine: {meta.get('nproc', '?')} CPUs, {meta.get('cpu_model', '?')}, {meta.get('mem', '?')}; "
      f"kernel {meta.get('kernel', '?')}; nginx {meta.get('nginx', '?')}; wrk {meta.get('wrk', '?')}")
    fig = next((r for r in runs.wrk if r["figure"] in ("a", "b", "c")),
               next((r for r in runs.wrk if r["figure"] == "ledger"), {}))
    st = fig.get("settings", {})
    w(f"- service: {st.get('processes', '?')} processes × {st.get('threads', '?')} event-loop threads, "
      f"{st.get('slots', '?')} requests in flight per process "
      f"(CHITTYCHARGE_PROCESSES / CHITTYCHARGE_LOOPS / CHITTYCHARGE_IN_FLIGHT), worker `{meta.get('worker')}` ({meta.get('build_type', '')}), "
      f"git {meta.get('git', '?')}")
    quiet = runs.of_kind("quiet")
    if quiet:
        w("- CPU busy with other processes just before each phase: "
          + ", ".join(f"{q['label'].replace('phase ', '')} {q['busy_fraction']:.0%}" for q in quiet))
    w(f"- each load run: wrk -t2, {meta.get('duration')} s (figure c: {meta.get('duration_c')} s), after a warm-up; "
      f"all processes share the same CPUs; \"other CPU\" is CPU used by processes outside the benchmark during the run\n")
    return out


def references(runs: Runs) -> list[str]:
    refs = [r for r in runs.wrk if r["figure"] == "ref"]
    if not refs:
        return []
    out = ["## References (same run)\n",
           "| reference | conns | req/s | p50 ms | p99 ms | errors | CPU µs/request: workers / nginx / upstream / wrk |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in refs:
        n = max(r["requests"], 1)
        per = " / ".join(f"{r['cpu_s'].get(k, 0) / n * 1e6:.0f}" for k in ("workers", "nginx", "upstream"))
        per += f" / {(r.get('wrk_cpu_s') or 0) / n * 1e6:.0f}"
        out.append(f"| {r['label']} | {r['conns']} | {r['rps']:,.0f} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} | {r['errors']} | {per} |")
    out.append("")
    return out


def figures(runs: Runs) -> list[str]:
    """(a)–(c), each with its ratio to nginx's own answer and to the bare libfcgi responder."""
    figs = [r for r in runs.wrk if r["figure"] in ("a", "b", "c")]
    refs_nginx = runs.refs("nginx return (preflight)")
    refs_bare = runs.refs("bare libfcgi GET /api/holds")
    refs_bare_h = runs.refs("bare libfcgi GET /health")
    out = []
    if figs:
        out += ["## Figures\n",
                "| figure | run | conns | req/s | p50 ms | p99 ms | errors | ÷ nginx return | ÷ bare libfcgi | CPU µs/request: workers (of it kernel) / nginx / memcached / upstream / wrk | other CPU |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in figs:
        c = r["conns"]
        bare = refs_bare_h.get(c) if "health" in r["label"] else refs_bare.get(c)
        per, other = _cpu_columns(r, runs.meta)
        out.append(f"| ({r['figure']}) | {r['label']} | {c} | {r['rps']:,.0f} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} | "
                   f"{r['errors']} | {_ratio(r['rps'], refs_nginx.get(c, {}) and refs_nginx[c]['rps'])} | "
                   f"{_ratio(r['rps'], bare and bare['rps'])} | {per} | {other:.0%} |")
    out.append("")
    return out


def _side_rounds(runs: Runs) -> tuple[list[dict], list[dict]]:
    """The alternating (a) rounds: the service's runs and the bare pool's, in order."""
    side = [r for r in runs.wrk if r["figure"] == "a-side"]
    return ([r for r in side if r["label"].startswith("service")],
            [r for r in side if r["label"].startswith("bare")])


def side_ratio(runs: Runs):
    """(median ratio, median service req/s, median bare req/s, rounds, min ratio, max ratio)
    of the alternating (a) rounds, or None without any."""
    svc, bare = _side_rounds(runs)
    ratios = [a["rps"] / b["rps"] for a, b in zip(svc, bare) if b["rps"]]
    if not ratios:
        return None
    return (statistics.median(ratios), statistics.median([x["rps"] for x in svc]),
            statistics.median([x["rps"] for x in bare]), len(ratios), min(ratios), max(ratios))


def side_by_side(runs: Runs) -> list[str]:
    ratio = side_ratio(runs)
    if ratio is None:
        return []
    svc, bare = _side_rounds(runs)
    out = ["## (a) side by side: cached read vs bare libfcgi, alternating\n",
           "The bare responder runs as a second pool (same processes × threads) behind a second nginx "
           "rendered from the same config (only ports, socket and log paths differ); the two are measured "
           f"alternately, {ratio[3]} rounds, so background load hits both alike.\n",
           "| round | cached GET req/s (p99 ms) | bare libfcgi req/s (p99 ms) | ratio |",
           "|---:|---:|---:|---:|"]
    for i, (a, b) in enumerate(zip(svc, bare), 1):
        out.append(f"| {i} | {a['rps']:,.0f} ({_fmt_ms(a['p99_ms'])}) | {b['rps']:,.0f} ({_fmt_ms(b['p99_ms'])}) | {a['rps'] / b['rps']:.0%} |")
    out.append(f"| median | {ratio[1]:,.0f} | {ratio[2]:,.0f} | **{ratio[0]:.0%}** |")
    out.append("")
    return out


def levers(runs: Runs) -> list[str]:
    """Lever runs repeated round-robin ("<label> #N") as medians; the others one per row."""
    lever_runs = [r for r in runs.wrk if r["figure"] == "lever"]
    rounds: dict[str, list[dict]] = {}
    for r in lever_runs:
        m = re.match(r"^(.*) #(\d+)$", r["label"])
        if m:
            rounds.setdefault(m.group(1), []).append(r)
    out = []
    if rounds:
        nproc = runs.meta.get("nproc") or 2
        out += ["## Levers, round-robin medians\n",
                "| run | rounds | req/s median (min–max) | p99 ms median | errors | workers CPU µs/request median | other CPU median |",
                "|---|---:|---|---:|---:|---:|---:|"]
        for label, rs in rounds.items():
            rps = [x["rps"] for x in rs]
            wk = [x["cpu_s"].get("workers", 0) / max(x["requests"], 1) * 1e6 for x in rs]
            oth = [x.get("foreign_cpu_s", 0) / max(x["wall_s"], 0.001) / nproc for x in rs]
            out.append(f"| {label} | {len(rs)} | {statistics.median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | "
                       f"{statistics.median([x['p99_ms'] for x in rs]):.1f} | {sum(x['errors'] for x in rs)} | "
                       f"{statistics.median(wk):.0f} | {statistics.median(oth):.0%} |")
        out.append("")
        lever_runs = [r for r in lever_runs if not re.search(r" #\d+$", r["label"])]
    if lever_runs:
        out += ["## Levers\n",
                "| run | conns | req/s | p50 ms | p99 ms | errors | CPU µs/request: workers (sys) / nginx / memcached / upstream / wrk | other CPU |",
                "|---|---:|---:|---:|---:|---:|---|---:|"]
        for r in lever_runs:
            per, other = _cpu_columns(r, runs.meta)
            out.append(f"| {r['label']} | {r['conns']} | {r['rps']:,.0f} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} | "
                       f"{r['errors']} | {per} | {other:.0%} |")
        out.append("")
    return out


def memory(runs: Runs) -> list[str]:
    rss = [r for r in runs.of_kind("rss") if r.get("figure") not in ("ledger", "peer")]  # those: ledger(), peer()
    if not rss:
        return []
    out = ["## Memory (d)\n",
           "| when | workers RSS MiB (each) | nginx MiB | memcached MiB | whole service RSS MiB | PSS MiB |",
           "|---|---|---:|---:|---:|---:|"]
    for r in rss:
        t = r["totals"]
        each = ", ".join(f"{p['rss_kb'] / 1024:.1f}" for p in r["procs"] if p["group"] == "workers")
        out.append(f"| {r['label']} | {each} | {t['nginx_rss_kb'] / 1024:.1f} | {t['memcached_rss_kb'] / 1024:.1f} | "
                   f"{t['service_rss_kb'] / 1024:.1f} | {t['service_pss_kb'] / 1024:.1f} |")
    out.append("")
    return out


def _soak_record(runs: Runs):
    return next((r for r in runs.recs if r.get("kind") == "soak"), None)


def soak(runs: Runs) -> list[str]:
    s = _soak_record(runs)
    if not s:
        return []
    return [f"Soak: {s['duration_s']:.0f} s at {s['rps']:,.0f} req/s ({s['conns']} connections, "
            f"{s['delay_ms']} ms between requests per connection; creates, cached reads, health), "
            f"p99 {_fmt_ms(s['p99_ms'])} ms, errors {s['errors']}. Workers' RSS after the {s['warmup_s']:.0f} s "
            f"warm-up: {s['workers_start_kb'] / 1024:.1f} → {s['workers_end_kb'] / 1024:.1f} MiB "
            f"(max {s['workers_max_kb'] / 1024:.1f}), least-squares slope {s['workers_slope_kib_per_min']:+.1f} KiB/min; "
            f"whole service {s['service_start_kb'] / 1024:.1f} → {s['service_end_kb'] / 1024:.1f} MiB "
            f"(memcached {s['memcached_end_kb'] / 1024:.1f} MiB: the cache filling, bounded by `-m 64`).\n"]


def profile(runs: Runs) -> list[str]:
    perf = runs.of_kind("perf")
    if not perf:
        return []
    out = ["## Profile (perf record -e cpu-clock -a, default settings, 64 connections)\n"]
    for r in perf:
        procs = sorted(r["procs"].items(), key=lambda kv: -kv[1]["total"])
        out.append(f"**{r['label']}** — share of all CPU samples by process (of it in the kernel): "
                   + "; ".join(f"{c} {d['total']:.0f}% ({d['kernel']:.0f}%)" for c, d in procs if d["total"] >= 1) + ".\n")
        out += ["| % of samples | process | symbol |", "|---:|---|---|"]
        for t in r["top"][:15]:
            out.append(f"| {t['pct']:.1f} | {t['comm']} | `{t['what'][:80]}` |")
        out.append("")
    return out


def instructions(runs: Runs) -> list[str]:
    """(e): callgrind's Ir per request, top functions, and Ir by part of the request."""
    cg = [r for r in runs.of_kind("callgrind") if r.get("figure") != "ledger"]  # those: ledger()
    if not cg:
        return []
    out = ["## Instructions per request (e), callgrind, one worker process\n",
           "| request | Ir/request | malloc+calloc+realloc /request | top exclusive functions (share of Ir) |",
           "|---|---:|---:|---|"]
    for r in cg:
        tops = "; ".join(f"{t['fn'].split('(')[0][:48]} {t['pct']:.0f}%" for t in r["top"][:6])
        out.append(f"| {r['label']} | {r['ir_per_request']:,} | {r['mallocs_per_request']} | {tops} |")
    out.append("")
    out.append("Inclusive Ir per request by part (a call counted where it enters the part; parts can nest, "
               "e.g. the cache record parse calls the Stripe JSON parser; malloc/free counts every caller):\n")
    labels = [r["label"] for r in cg]
    out.append("| part | " + " | ".join(labels) + " |")
    out.append("|---|" + "---:|" * len(labels))
    names = [g["group"] for g in cg[0].get("groups", [])]
    for name in names:
        cells = []
        for r in cg:
            g = next((x for x in r.get("groups", []) if x["group"] == name), None)
            cells.append("—" if not g or not g["per_request"] else f"{g['per_request']:,} ({g['per_request'] / max(r['ir_per_request'], 1):.0%})")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("")
    return out


# ---------------------------------------------------------------- the ledger phase

LEDGER_SIDES = ("with ledger", "without ledger")
LEDGER_LOADS = (("0 ms", "Stripe 0 ms c64"), ("200 ms", "Stripe 200 ms c256"))
LEDGER_COMPONENTS = ("workers", "postgres", "nginx", "memcached", "upstream")


def _ledger_runs(runs: Runs, side: str, load: str) -> list[dict]:
    """The alternating rounds of one worker at one load, in order."""
    pat = re.compile(rf"^ledger: {re.escape(side)}, POST /api/holds, {re.escape(load)} #\d+$")
    return [r for r in runs.wrk if r["figure"] == "ledger" and pat.match(r["label"])]


def _ledger_ratios(runs: Runs, load: str) -> list[float]:
    """with ÷ without creates/s, round by round."""
    w, wo = _ledger_runs(runs, LEDGER_SIDES[0], load), _ledger_runs(runs, LEDGER_SIDES[1], load)
    return [a["rps"] / b["rps"] for a, b in zip(w, wo) if b["rps"]]


def _med(xs):
    return statistics.median(xs) if xs else None


def span(xs, fmt):
    """The median of xs, with (min–max) when there are several; "—" when none."""
    if not xs:
        return "—"
    return fmt(_med(xs)) + (f" ({fmt(min(xs))}–{fmt(max(xs))})" if len(xs) > 1 else "")


def _cpu_us(rs: list[dict], comp: str | None) -> float | None:
    """Median CPU µs per create of one component (None: all of the stack, wrk excluded)."""
    vals = []
    for r in rs:
        n = max(r["requests"], 1)
        v = sum(r["cpu_s"].get(k, 0) for k in r["cpu_s"] if k != "multiwatch") if comp is None else r["cpu_s"].get(comp, 0)
        vals.append(v / n * 1e6)
    return _med(vals)


def _ledger_rss(runs: Runs, side: str, when: str):
    return next((r for r in runs.of_kind("rss") if r.get("label") == f"ledger: {side}, {when}"), None)


def _ledger_cg(runs: Runs, side: str):
    key = "with" if side == LEDGER_SIDES[0] else "without"
    return next((r for r in runs.of_kind("callgrind") if r.get("label") == f"ledger: {key}, POST /api/holds (0 ms)"), None)


def ledger(runs: Runs) -> list[str]:
    if not any(r["figure"] == "ledger" for r in runs.wrk):
        return []
    lm = next(iter(runs.of_kind("ledger-meta")), {})
    nproc = runs.meta.get("nproc") or 2
    out = ["## Ledger: POST /api/holds with and without the PostgreSQL ledger (same run, alternating)\n",
           f"With: `{lm.get('with_worker', '?')}` (its private PostgreSQL, default settings"
           + (f", `{lm['pg_options']}`" if lm.get("pg_options") else "") + "). "
           f"Without: `{lm.get('without_worker', '?')}`, built from {lm.get('baseline', lm.get('baseline_ref', '?'))}. "
           f"Both stacks up side by side, {lm.get('rounds', '?')} rounds of {lm.get('duration_s', '?')} s runs, "
           "the order flipped every round; figures are medians over the rounds (min–max).\n",
           "| | with ledger | without ledger | with ÷ without |", "|---|---:|---:|---:|"]

    for name, load in LEDGER_LOADS:
        w, wo = (_ledger_runs(runs, s, load) for s in LEDGER_SIDES)
        ratios = _ledger_ratios(runs, load)
        out.append(f"| creates/s, {load} | {span([r['rps'] for r in w], lambda v: f'{v:,.0f}')} | "
                   f"{span([r['rps'] for r in wo], lambda v: f'{v:,.0f}')} | "
                   f"**{span(ratios, lambda v: f'{v:.0%}')}** |")
        for q in ("p50", "p99"):
            a, b = _med([r[f"{q}_ms"] for r in w]), _med([r[f"{q}_ms"] for r in wo])
            out.append(f"| {q} ms, {load} | {_fmt_ms(a)} | {_fmt_ms(b)} | {_ratio(a, b)} |")
        out.append(f"| errors, {load} (all rounds) | {sum(r['errors'] for r in w)} | {sum(r['errors'] for r in wo)} | |")
        for comp in (*LEDGER_COMPONENTS, None):
            a, b = _cpu_us(w, comp), _cpu_us(wo, comp)
            label = comp if comp else "**whole stack** (wrk excluded)"
            out.append(f"| CPU µs/create, {load}: {label} | {a:.0f} | {b:.0f} | {a - b:+.0f} µs |"
                       if a is not None and b is not None else f"| CPU µs/create, {load}: {label} | — | — | |")
        oth = [r.get("foreign_cpu_s", 0) / max(r["wall_s"], 0.001) / nproc for r in w + wo]
        if oth:
            out.append(f"| other processes' CPU during these runs, {load} | {_med(oth):.0%} (max {max(oth):.0%}) | | |")
    cg = [_ledger_cg(runs, s) for s in LEDGER_SIDES]
    if any(cg):
        def cell(r, f):
            return "—" if not r or r.get(f) is None else f"{r[f]:,}"
        out.append(f"| worker Ir/create (callgrind, 1 process × 1 loop, one create at a time) | {cell(cg[0], 'ir_per_request')} | "
                   f"{cell(cg[1], 'ir_per_request')} | "
                   + (_ratio(cg[0]['ir_per_request'], cg[1]['ir_per_request']) if all(cg) else "") + " |")
        out.append(f"| worker malloc+calloc+realloc/create | {cell(cg[0], 'mallocs_per_request')} | {cell(cg[1], 'mallocs_per_request')} | |")
        out.append(f"| PostgreSQL CPU µs/create during that batch (/proc) | {cell(cg[0], 'postgres_cpu_us_per_request')} | "
                   f"{cell(cg[1], 'postgres_cpu_us_per_request')} | |")
        led = next((g for g in (cg[0] or {}).get("groups", []) if g["group"].startswith("ledger")), None)
        if led:
            out.append(f"| of the worker's Ir/create: ledger (cc::ledger + libpq) | {led['per_request']:,} | | |")
    for when in ("idle", "idle after load"):
        rs = [_ledger_rss(runs, s, when) for s in LEDGER_SIDES]
        if not any(rs):
            continue
        def pool(r):
            return "—" if not r else f"{r['totals']['pool_rss_kb'] / 1024:.1f} (PSS {r['totals']['pool_pss_kb'] / 1024:.1f})"
        out.append(f"| pool RSS MiB, {when} (workers + multiwatch) | {pool(rs[0])} | {pool(rs[1])} | |")
        if rs[0] and rs[0]["totals"].get("postgres_procs"):
            t = rs[0]["totals"]
            out.append(f"| PostgreSQL MiB, {when} ({t['postgres_procs']} processes): RSS sum (PSS sum) | "
                       f"{t['postgres_rss_kb'] / 1024:.1f} ({t['postgres_pss_kb'] / 1024:.1f}) | — | |")
    out.append("")
    variants = sorted({m.group(1) for r in runs.wrk if r["figure"] == "ledger"
                       for m in [re.match(r"^ledger: (with ledger \[.*\]), POST", r["label"])] if m})
    if variants:
        out += ["The ledger's worker again, its PostgreSQL started with other flags (the same rounds):\n",
                "| stack | load | creates/s | ÷ without ledger (median of rounds) | p50 ms | p99 ms | errors | CPU µs/create: workers / postgres / whole stack |",
                "|---|---|---:|---:|---:|---:|---:|---|"]
        for v in variants:
            for name, load in LEDGER_LOADS:
                rs, wo = _ledger_runs(runs, v, load), _ledger_runs(runs, LEDGER_SIDES[1], load)
                if not rs:
                    continue
                ratios = [a["rps"] / b["rps"] for a, b in zip(rs, wo) if b["rps"]]
                out.append(f"| {v} | {load} | {span([r['rps'] for r in rs], lambda x: f'{x:,.0f}')} | "
                           f"{span(ratios, lambda x: f'{x:.0%}')} | {_fmt_ms(_med([r['p50_ms'] for r in rs]))} | "
                           f"{_fmt_ms(_med([r['p99_ms'] for r in rs]))} | {sum(r['errors'] for r in rs)} | "
                           f"{_cpu_us(rs, 'workers'):.0f} / {_cpu_us(rs, 'postgres'):.0f} / {_cpu_us(rs, None):.0f} |")
        out.append("")
    # Round by round.
    out += ["| round | " + " | ".join(f"{s}, {load}: creates/s (p99 ms)" for load, _ in LEDGER_LOADS for s in LEDGER_SIDES) + " |",
            "|---:|" + "---:|" * (2 * len(LEDGER_LOADS))]
    cols = [_ledger_runs(runs, s, load) for _, load in LEDGER_LOADS for s in LEDGER_SIDES]
    for i in range(max(len(c) for c in cols)):
        cells = [f"{c[i]['rps']:,.0f} ({_fmt_ms(c[i]['p99_ms'])})" if i < len(c) else "—" for c in cols]
        out.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def _ledger_targets(runs: Runs) -> list[tuple[str, str, bool]]:
    tgt = []
    for name, load in LEDGER_LOADS:
        ratios = _ledger_ratios(runs, load)
        if ratios:
            m = _med(ratios)
            tgt.append((f"ledger costs ≤ 15 % of create throughput at {name} (median of rounds, with ÷ without ≥ 85 %)",
                        f"{m:.0%} (rounds {min(ratios):.0%}–{max(ratios):.0%}): cost {1 - m:.0%}", m >= 0.85))
    w = _ledger_runs(runs, LEDGER_SIDES[0], "Stripe 200 ms c256")
    if w:
        p99 = _med([r["p99_ms"] for r in w])
        errs = sum(r["errors"] for r in w)
        tgt.append(("with the ledger: p99 ≤ 300 ms at 200 ms, 256 conns (median of rounds), zero errors",
                    f"p99 {_fmt_ms(p99)} ms (worst round {_fmt_ms(max(r['p99_ms'] for r in w))}), {errs} errors",
                    p99 <= 300 and errs == 0))
    for when in ("idle", "idle after load"):
        r = _ledger_rss(runs, LEDGER_SIDES[0], when)
        if r:
            t = r["totals"]
            mib = t["pool_rss_kb"] / 1024
            tgt.append((f"with the ledger: worker pool ≤ 64 MiB RSS, {when}",
                        f"{mib:.1f} MiB (PSS {t['pool_pss_kb'] / 1024:.1f}); PostgreSQL beside it: RSS sum "
                        f"{t['postgres_rss_kb'] / 1024:.1f}, PSS sum {t['postgres_pss_kb'] / 1024:.1f} MiB", mib <= 64))
    return tgt


# ---------------------------------------------------------------- the Express peer (phase peer)

PEER_LOADS = (("0 ms, 64 conns", "Stripe 0 ms c64"), ("200 ms, 256 conns", "Stripe 200 ms c256"))
# CPU columns per stack: the stack itself, then what both stacks share the cost of.
PEER_CPU = (("nginx", "nginx"), ("workers", "workers"), ("multiwatch", "pool parent"), ("postgres", "PostgreSQL"),
            ("memcached", "memcached"), ("stub_stripe", "Stripe stub"), ("stub_chittyid", "ChittyID stub"))


def _peer_runs(runs: Runs, stack: str, load: str) -> list[dict]:
    pat = re.compile(rf"^peer: {stack}, POST /api/holds, {re.escape(load)} #\d+$")
    return [r for r in runs.wrk if r["figure"] == "peer" and pat.match(r["label"])]


def _peer_ratios(runs: Runs, load: str) -> list[float]:
    """project ÷ peer creates/s, round by round."""
    return [a["rps"] / b["rps"] for a, b in zip(_peer_runs(runs, "project", load), _peer_runs(runs, "peer", load))
            if b["rps"]]


def peer(runs: Runs) -> list[str]:
    if not any(r["figure"] == "peer" for r in runs.wrk):
        return []
    out = ["## Side by side with the Express peer (../shared/peer-express/README.md)\n",
           "Both stacks against the peer's Node stubs (Stripe, ChittyID), a fresh memcached each, "
           "`POST /api/holds` with its body and a fresh Idempotency-Key per request; this project with "
           "its ledger on. Rounds alternate the stacks; medians over the rounds (min–max).\n",
           "| | this project | Express peer | ratio |", "|---|---:|---:|---:|"]

    for name, load in PEER_LOADS:
        p, q = _peer_runs(runs, "project", load), _peer_runs(runs, "peer", load)
        ratios = _peer_ratios(runs, load)
        out.append(f"| creates/s, {name} | {span([r['rps'] for r in p], lambda v: f'{v:,.0f}')} | "
                   f"{span([r['rps'] for r in q], lambda v: f'{v:,.0f}')} | "
                   f"{span(ratios, lambda v: f'{v:.2f}×')} |")
        out.append(f"| p50 / p99 ms, {name} | {_fmt_ms(_med([r['p50_ms'] for r in p]))} / {_fmt_ms(_med([r['p99_ms'] for r in p]))} | "
                   f"{_fmt_ms(_med([r['p50_ms'] for r in q]))} / {_fmt_ms(_med([r['p99_ms'] for r in q]))} | |")
        out.append(f"| non-2xx or errors, {name} | {sum(r['errors'] for r in p)} | {sum(r['errors'] for r in q)} | |")
    out += ["", "CPU µs per create by component (median over the rounds; wrk from its rusage):\n",
            "| stack, load | " + " | ".join(n for _, n in PEER_CPU) + " | wrk | all | other processes |",
            "|---|" + "---:|" * (len(PEER_CPU) + 3)]
    for stack in ("project", "peer"):
        for name, load in PEER_LOADS:
            rs = _peer_runs(runs, stack, load)
            if not rs:
                continue
            cells = [_cpu_us(rs, comp) for comp, _ in PEER_CPU]
            wrk_us = _med([(r.get("wrk_cpu_s") or 0) / max(r["requests"], 1) * 1e6 for r in rs])
            other = _med([r.get("foreign_cpu_s", 0) / max(r["requests"], 1) * 1e6 for r in rs])
            total = sum(c or 0 for c in cells) + (wrk_us or 0)
            out.append(f"| {stack}, {name} | " + " | ".join("—" if c is None or (c == 0 and comp in ("postgres", "multiwatch")) else f"{c:.0f}"
                                                         for c, (comp, _) in zip(cells, PEER_CPU))
                       + f" | {wrk_us:.0f} | {total:.0f} | {other:.0f} |")
    rss = [r for r in runs.of_kind("rss") if r.get("figure") == "peer"]
    if rss:
        out += ["", "| RSS | pool (workers + parent) MiB | nginx | memcached | PostgreSQL (RSS / PSS sum) |", "|---|---:|---:|---:|---:|"]
        for r in rss:
            t = r["totals"]
            out.append(f"| {r['label'][6:]} | {t['pool_rss_kb'] / 1024:.1f} (PSS {t['pool_pss_kb'] / 1024:.1f}) | "
                       f"{t['nginx_rss_kb'] / 1024:.1f} | {t['memcached_rss_kb'] / 1024:.1f} | "
                       + (f"{t['postgres_rss_kb'] / 1024:.1f} / {t['postgres_pss_kb'] / 1024:.1f}" if t["postgres_procs"] else "—") + " |")
    out.append("")
    return out


def _peer_targets(runs: Runs) -> list[tuple[str, str, bool]]:
    tgt = []
    ratios = _peer_ratios(runs, PEER_LOADS[0][1])
    p0 = _peer_runs(runs, "project", PEER_LOADS[0][1])
    if ratios:
        errs = sum(r["errors"] for r in p0)
        tgt.append(("peer: creates at 0 ms, 64 conns ≥ 4.0 × the Express peer, zero non-2xx (worst round)",
                    f"{min(ratios):.2f}× (rounds {', '.join(f'{x:.2f}×' for x in ratios)}), {errs} errors",
                    min(ratios) >= 4.0 and errs == 0))
    p2 = _peer_runs(runs, "project", PEER_LOADS[1][1])
    if p2:
        worst = min(p2, key=lambda r: r["rps"])
        worst_p99 = max(r["p99_ms"] for r in p2)
        errs = sum(r["errors"] for r in p2)
        tgt.append(("peer: creates at 200 ms, 256 conns ≥ 1,150/s with p99 ≤ 300 ms, zero non-2xx (worst round)",
                    f"{worst['rps']:,.0f}/s, p99 {_fmt_ms(worst_p99)} ms, {errs} errors",
                    worst["rps"] >= 1150 and worst_p99 <= 300 and errs == 0))
    return tgt


def _targets_measured(runs: Runs) -> list[tuple[str, str, bool]]:
    """(target, what was measured, met) for each target this run measured."""
    tgt = []
    ratio = side_ratio(runs)
    get64 = runs.find("GET /api/holds/:id (cached) c64")
    bare64 = runs.refs("bare libfcgi GET /api/holds").get(64)
    if ratio:
        tgt.append(("(a) cached read ≥ 70% of bare libfcgi (64 conns; median of the alternating rounds)",
                    f"{ratio[0]:.0%} (rounds {ratio[4]:.0%}–{ratio[5]:.0%}; {ratio[1]:,.0f} / {ratio[2]:,.0f})",
                    ratio[0] >= 0.70))
    if get64 and bare64:
        r = get64["rps"] / bare64["rps"]
        tgt.append(("(a) cached read ≥ 70% of bare libfcgi (64 conns; the sequential runs above)", f"{r:.0%} ({get64['rps']:,.0f} / {bare64['rps']:,.0f})", r >= 0.70))
    b64 = runs.find("POST /api/holds, Stripe 0 ms c64")
    if b64:
        tgt.append(("(b) ≥ 5,000 holds/s at 0 ms, 64 conns, zero errors (canned doubles: a lower bound on the cost; the peer phase is the comparison)", f"{b64['rps']:,.0f}/s, {b64['errors']} errors",
                    b64["rps"] >= 5000 and b64["errors"] == 0))
    c256 = runs.find("POST /api/holds, Stripe 200 ms c256")
    if c256:
        ok = c256["rps"] >= 0.9 * 1280 and c256["p99_ms"] <= 300 and c256["errors"] == 0
        tgt.append(("(c) 200 ms, 256 conns: ≥ 1,152 holds/s, p99 ≤ 300 ms, zero errors (canned doubles)",
                    f"{c256['rps']:,.0f}/s ({c256['rps'] / 1280:.0%} of 1,280), p99 {_fmt_ms(c256['p99_ms'])} ms, {c256['errors']} errors", ok))
    tgt += _ledger_targets(runs)
    tgt += _peer_targets(runs)
    idle = next((r for r in runs.of_kind("rss") if r["label"] == "idle"), None)
    if idle:
        mib = idle["totals"]["service_rss_kb"] / 1024
        tgt.append(("(d) whole service ≤ 64 MiB RSS at idle", f"{mib:.1f} MiB (PSS {idle['totals']['service_pss_kb'] / 1024:.1f})", mib <= 64))
    s = _soak_record(runs)
    if s:
        grow = (s["workers_end_kb"] - s["workers_start_kb"]) / 1024
        ok = s["workers_slope_kib_per_min"] <= 64 and grow <= 1.0
        tgt.append(("(d) no worker RSS growth over the soak", f"{grow:+.2f} MiB, slope {s['workers_slope_kib_per_min']:+.1f} KiB/min", ok))
    return tgt


def targets(runs: Runs) -> list[str]:
    tgt = _targets_measured(runs)
    out = []
    if tgt:
        out += ["## Targets\n", "| target | measured | |", "|---|---|---|"]
    for name, val, ok in tgt:
        out.append(f"| {name} | {val} | {'met' if ok else '**missed**'} |")
    out.append("")
    return out


SECTIONS = (header, references, figures, side_by_side, levers, ledger, peer, memory, soak, profile,
            instructions, targets)


def render(recs: list[dict]) -> str:
    runs = Runs(recs)
    return "\n".join(line for section in SECTIONS for line in section(runs))


def cmd_report(args: argparse.Namespace) -> None:
    text = render(results.load(args.results))
    Path(args.out).write_text(text)
    print(text)
