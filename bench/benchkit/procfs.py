"""/proc: the benchmark's processes by component, their CPU ticks and memory, and the
machine's busy and steal ticks."""
from __future__ import annotations

import os
from pathlib import Path


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_table() -> dict[int, tuple[int, str, int, int]]:
    """pid -> (ppid, comm, cpu ticks utime+stime, stime ticks; whole thread group)."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        rpar = raw.rfind(")")
        comm = raw[raw.find("(") + 1:rpar]
        fields = raw[rpar + 2:].split()
        out[int(entry.name)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]), int(fields[12]))
    return out


def read_pid(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def descendants(table, roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, stack = [], [r for r in roots if r in table]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.append(pid)
        stack.extend(children.get(pid, []))
    return seen


def component_pids(svc_run_dir: str | None, up_run_dir: str | None, table=None,
                   nginx_pidfile: str | None = None, pg_pidfile: str | None = None,
                   extra: list[str] | None = None) -> dict[str, list[int]]:
    """The stack's processes by component. workers = the pool's children (not multiwatch).
    nginx_pidfile: count another nginx (a variant config) as the stack's nginx.
    postgres: the postmaster scripts/run.sh started (<run dir>/postgres.pid) and its
    backends; pg_pidfile: another stack's (a stack whose DATABASE_URL points there).
    extra: "NAME=PIDFILE" components (that process and its descendants; a NAME already
    present is replaced), e.g. the peer phase's Node stubs, or a memcached the bench started."""
    table = table if table is not None else proc_table()
    groups: dict[str, list[int]] = {}
    if svc_run_dir:
        nginx = read_pid(nginx_pidfile or f"{svc_run_dir}/nginx.pid")
        pool = read_pid(f"{svc_run_dir}/pool.pid")
        memc = read_pid(f"{svc_run_dir}/memcached.pid")
        pg = read_pid(pg_pidfile or f"{svc_run_dir}/postgres.pid")
        groups["nginx"] = descendants(table, [nginx] if nginx else [])
        pool_all = descendants(table, [pool] if pool else [])
        groups["workers"] = [p for p in pool_all if p != pool]
        groups["multiwatch"] = [pool] if pool in table else []
        groups["memcached"] = [memc] if memc in table else []
        groups["postgres"] = descendants(table, [pg] if pg else [])
    if up_run_dir:
        up = read_pid(f"{up_run_dir}/upstream.pid")
        groups["upstream"] = descendants(table, [up] if up else [])
    for spec in extra or []:
        name, _, pidfile = spec.partition("=")
        pid = read_pid(pidfile)
        groups[name] = descendants(table, [pid] if pid else [])
    return groups


def steal_ticks() -> int:
    return int(Path("/proc/stat").read_text().splitlines()[0].split()[8])


def busy_ticks() -> int:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in parts[:8]]  # user nice system idle iowait irq softirq steal
    return sum(vals) - vals[3] - vals[4]


def cpu_of(table, pids) -> int:
    return sum(table[p][2] for p in pids if p in table)


def sys_of(table, pids) -> int:
    return sum(table[p][3] for p in pids if p in table)


def cpu_by_component(table, groups: dict[str, list[int]]) -> dict[str, int]:
    """CPU ticks (user + system) of each component of component_pids()."""
    return {k: cpu_of(table, v) for k, v in groups.items()}


def sys_by_component(table, groups: dict[str, list[int]]) -> dict[str, int]:
    """System CPU ticks of each component of component_pids()."""
    return {k: sys_of(table, v) for k, v in groups.items()}


def mem_of(pid: int) -> tuple[int, int]:
    """(RSS kB, PSS kB)."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cmd_cputicks(args) -> None:
    """CPU seconds (user + system) the process of --pidfile and its descendants have used
    so far; 0 when it is not running. Two calls bracket a batch (e.g. PostgreSQL's CPU
    while callgrind counts the worker's instructions)."""
    table = proc_table()
    pid = read_pid(args.pidfile)
    print(f"{cpu_of(table, descendants(table, [pid] if pid else [])) / CLK_TCK:.2f}")
