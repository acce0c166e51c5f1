"""bench/benchlib.py's subcommands, one module per concern (Python 3 standard library only).

  results         the results file: one JSON object per line
  procfs          /proc: the stack's processes by component, CPU ticks, RSS/PSS
  nginx_configs   render-upstream (the upstream doubles) and nginx-variant
  wrk             one wrk run with CPU per component; quiet (others' CPU before a phase)
  fire            exactly N requests on one connection (for callgrind)
  memory          rss: RSS and PSS of every process of the service
  soak            a bounded wrk soak with RSS samples
  perf            perf: a system-wide cpu-clock profile's summary
  callgrind       callgrind: Ir per request, by part and by function
  report          the summary (Markdown), one function per section
  scheduler       bench/scheduler.sh's helpers (run as a script: seeding the Stripe double, the
                  client-app endpoint, the request-log summary, the per-size report and table)
"""
