#!/usr/bin/env python3
"""Helpers for run.sh.
  stats.py parse KIND FILE      -> prints 'rps p50_ms p99_ms errors' for one load-generator output
                                   KIND: wrk | hey | h2load (FILE = h2load stdout; FILE.log = its --log-file)
  stats.py table RUNS.tsv       -> markdown table (median over rounds, spread, paired ratios); a row whose
                                   4th field is "n/a" (scenario not applicable to that target) prints as n/a
  stats.py memtable MEM.tsv     -> markdown table for the idle-connection memory figure"""
import re, statistics as st, sys, os

def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]

def parse_wrk(txt):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", txt).group(1))
    lat = {}
    for p, v, u in re.findall(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", txt, re.M):
        lat[p] = ms(v, u)
    err = 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", txt)
    if m: err += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
    if m: err += sum(int(m.group(i)) for i in range(1, 5))
    return rps, lat.get("50", float("nan")), lat.get("99", float("nan")), err

def parse_hey(txt):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", txt).group(1))
    lat = {p: float(v) * 1e3 for p, v in re.findall(r"^\s+(50|99)% in ([\d.]+) secs", txt, re.M)}
    ok = sum(int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", txt) if code.startswith("2"))
    bad = sum(int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", txt) if not code.startswith("2"))
    m = re.search(r"Error distribution:(.*)", txt, re.S)
    if m: bad += sum(int(n) for n in re.findall(r"\[(\d+)\]", m.group(1)))
    return rps, lat.get("50", float("nan")), lat.get("99", float("nan")), bad

def parse_h2load(txt, logfile):
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", txt).group(1))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", txt)
    err = int(m.group(5)) + int(m.group(6)) if m else -1
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", txt)
    if m: err += int(m.group(3)) + int(m.group(4))
    d = []
    if os.path.exists(logfile):
        with open(logfile) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3 and parts[1].startswith("2"):
                    d.append(int(parts[2]))
    d.sort()
    q = lambda p: d[min(len(d) - 1, int(p * len(d)))] / 1e3 if d else float("nan")
    return rps, q(0.50), q(0.99), err

def fmt_rps(v):
    return f"{v/1e3:.1f}k" if v >= 1e3 else f"{v:.0f}"

def table(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip() and not l.startswith("#")]
    # scenario round target rps p50 p99 errors sut_cpu% origin_cpu%
    scen_order, tgt_order, data, na = [], {}, {}, set()
    for row in rows:
        s, r, t = row[:3]
        if s not in scen_order: scen_order.append(s); tgt_order[s] = []
        if t not in tgt_order[s]: tgt_order[s].append(t)
        if len(row) < 7 or row[3] == "n/a":      # not applicable (e.g. TLS scenario, gateway without TLS)
            na.add((s, t)); continue
        rps, p50, p99, err = row[3:7]
        cpu = [float(x) for x in row[7:9]] if len(row) >= 9 else [float("nan")] * 2
        data.setdefault((s, t), {})[int(r)] = (float(rps), float(p50), float(p99), int(err), cpu[0], cpu[1])
    pref = ["direct", "nginx", "haproxy", "h2o", "gateway"]
    out = ["| scenario | target | req/s median | min–max (±%) | p50 ms | p99 ms | ×nginx | ×direct "
           "| SUT CPU % | CPU µs/req | origin CPU % | errors |",
           "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scen_order:
        for t in sorted(tgt_order[s], key=lambda x: pref.index(x) if x in pref else 99):
            if (s, t) not in data:
                out.append(f"| {s} | {t} | " + " | ".join(["n/a"] * 10) + " |")
                continue
            d = data[(s, t)]
            rps = [v[0] for v in d.values()]
            med = st.median(rps)
            half = (max(rps) - min(rps)) / 2 / med * 100 if med else 0
            def paired(ref):
                if (s, ref) not in data: return "–"
                rr = [d[k][0] / data[(s, ref)][k][0] for k in d if k in data[(s, ref)] and data[(s, ref)][k][0] > 0]
                return f"{st.median(rr):.2f}" if rr else "–"
            cpu_us = [v[4] / 100 / v[0] * 1e6 for v in d.values() if v[0] > 0]
            out.append(f"| {s} | {t} | {fmt_rps(med)} | {fmt_rps(min(rps))}–{fmt_rps(max(rps))} (±{half:.0f}%) | "
                       f"{st.median(v[1] for v in d.values()):.2f} | {st.median(v[2] for v in d.values()):.2f} | "
                       f"{paired('nginx')} | {paired('direct')} | {st.median(v[4] for v in d.values()):.0f} | "
                       f"{st.median(cpu_us):.1f} | {st.median(v[5] for v in d.values()):.0f} | "
                       f"{sum(v[3] for v in d.values())} |")
    print("\n".join(out))
    n = len(next(iter(data.values()))) if data else 0
    print(f"\n(n={n} rounds per target; n/a = scenario not applicable to that target; ×ratios = median of per-round paired req/s ratios; "
          "p50/p99 = median over rounds of each run's percentile; SUT CPU % = CPU time of the system under test's "
          "processes / wall time (100 = one core); CPU µs/req = that CPU per request, the figure least disturbed "
          "by other jobs on the machine; origin CPU % = the nginx origin's share; for direct, SUT = origin)")

def memtable(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip() and not l.startswith("#")]
    out = ["| target | idle RSS MiB | RSS with N idle conns MiB | conns held | Δ KiB/conn | ×nginx Δ |",
           "|---|---:|---:|---:|---:|---:|"]
    per = {}
    for t, idle, busy, n, fail in rows:
        idle, busy, n = int(idle), int(busy), int(n)
        per[t] = (busy - idle) / n if n else float("nan")
    for t, idle, busy, n, fail in rows:
        idle, busy, n = int(idle), int(busy), int(n)
        rel = f"{per[t]/per['nginx']:.2f}" if "nginx" in per and per["nginx"] > 0 else "–"
        out.append(f"| {t} | {idle/1024:.1f} | {busy/1024:.1f} | {n} (failed {fail}) | {per[t]:.2f} | {rel} |")
    print("\n".join(out))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "parse":
        kind, f = sys.argv[2], sys.argv[3]
        txt = open(f).read()
        try:
            r = {"wrk": lambda: parse_wrk(txt), "hey": lambda: parse_hey(txt),
                 "h2load": lambda: parse_h2load(txt, f + ".log")}[kind]()
        except Exception:
            r = (0.0, float("nan"), float("nan"), -1)
        print(f"{r[0]:.1f}\t{r[1]:.3f}\t{r[2]:.3f}\t{r[3]}")
    elif cmd == "table":
        table(sys.argv[2])
    elif cmd == "memtable":
        memtable(sys.argv[2])
