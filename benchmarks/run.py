"""Run every workload for every available implementation and print one table.

    python -m benchmarks              # the full run (~10 minutes on 2 cores)
    python -m benchmarks --quick      # small sizes, a smoke run
    python -m benchmarks --only W1,W4 --impl numpy,jax.jit,symgraph

Thread limits are exported before any numerical library is imported, so this module
imports only the standard library at the top.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTENSOR_PYTHON = os.path.join(HERE, ".venv-pytensor", "bin", "python")
THREAD_VARIABLES = ("BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "NUMEXPR_MAX_THREADS")


def parse(argv):
    from benchmarks.cases import IMPLS, WORKLOADS
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help="comma-separated workloads (default: all)")
    parser.add_argument("--impl", default=",".join(IMPLS),
                        help="comma-separated implementations (default: all)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions (median)")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of timing per row; fewer repetitions past it (min 3)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads for every library (default: the usable cores)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    args.only = [w for w in args.only.split(",") if w]
    args.impl = [i for i in args.impl.split(",") if i]
    unknown = set(args.only) - set(WORKLOADS) | set(args.impl) - set(IMPLS)
    if unknown:
        parser.error(f"unknown workload or implementation: {', '.join(sorted(unknown))}; "
                     f"workloads: {', '.join(WORKLOADS)}; implementations: {', '.join(IMPLS)}")
    args.size = "quick" if args.quick else "full"
    return args


# ---------------------------------------------------------------- environment

def limit_threads(n):
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # XLA's start-up chatter


def header(args):
    """Lines describing the machine, the libraries and their thread counts."""
    import numpy
    import platform
    lines = [f"symgraph benchmarks ({args.size} sizes), {time.strftime('%Y-%m-%d %H:%M')}",
             f"machine: {platform.machine()}, {os.cpu_count()} cores "
             f"({len(os.sched_getaffinity(0))} usable), Python {platform.python_version()}, "
             f"NumPy {numpy.__version__}",
             f"threads: --threads {args.threads} exported as {', '.join(THREAD_VARIABLES)}",
             "load average at start: " + " ".join(f"{v:.2f}" for v in os.getloadavg()) +
             " (other work on the cores makes 2-thread pools wait: compare min with median)"]
    try:
        import numba
        lines.append(f"numba {numba.__version__}: NUMBA_NUM_THREADS="
                     f"{numba.config.NUMBA_NUM_THREADS}")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"numba: unavailable ({exc})")
    lines.append(_peer_line("numexpr", lambda m: f"{m.__version__}: {m.get_num_threads()} "
                            "threads"))
    lines.append(_peer_line("torch", lambda m: f"{m.__version__}: torch.get_num_threads()="
                            f"{_torch_threads()}"))
    lines.append(_peer_line("jax", lambda m: f"{m.__version__} (CPU; XLA sizes its own pool "
                            "to the cores)"))
    lines.append("pytensor: " + (f"venv {os.path.relpath(PYTENSOR_PYTHON, ROOT)}"
                                 if os.path.exists(PYTENSOR_PYTHON)
                                 else "unavailable (no venv: see benchmarks/README.md)"))
    lines.append(_peer_line("symgraph", lambda m: f"{getattr(m, '__version__', '?')} from "
                            f"{os.path.dirname(m.__file__)}"))
    return lines


def _torch_threads():
    from benchmarks import peers
    return peers.torch_module().get_num_threads()


def _peer_line(name, text):
    import importlib
    from benchmarks.common import describe
    try:
        return f"{name} {text(importlib.import_module(name))}"
    except Exception as exc:  # noqa: BLE001
        return f"{name}: unavailable ({describe(exc)})"


# ---------------------------------------------------------------- subprocess rows

def _last_json(stdout):
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith(("[", "{")):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def impl_rows(args, impl, cases):
    """One implementation's rows from a worker process (see worker.py)."""
    names = [c.name for c in cases if impl in c.impls]
    if not names:
        return []

    def rows_of(status, reason):
        return [{"case": n, "impl": impl, "label": impl, "status": status, "reason": reason}
                for n in names]

    common = ["--size", args.size, "--only", ",".join(sorted({n.split()[0] for n in names})),
              "--repeat", str(args.repeat), "--budget", str(args.budget)]
    if impl == "pytensor":
        if not os.path.exists(PYTENSOR_PYTHON):
            return rows_of("unavailable",
                           "no venv at benchmarks/.venv-pytensor (see benchmarks/README.md)")
        command = [PYTENSOR_PYTHON, "-m", "benchmarks.peer_pytensor"] + common
    else:
        command = [sys.executable, "-m", "benchmarks.worker", "--impl", impl] + common
    try:
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              timeout=1800)
    except subprocess.TimeoutExpired:
        return rows_of("failed", "worker timed out after 1800 s")
    try:
        return _last_json(done.stdout)
    except ValueError:
        return rows_of("failed", f"worker exited {done.returncode} without results")


def compile_latency_rows(args):
    """W4: one fresh process per (graph, implementation, cold|warm)."""
    from benchmarks.compile_latency import CACHE_ENV, GRAPHS, cache_env
    found = []
    graphs = ("chain",) if args.quick else GRAPHS
    for graph in graphs:
        for impl in [i for i in CACHE_ENV if i in args.impl]:
            with tempfile.TemporaryDirectory(prefix=f"bench-w4-{impl}-") as directory:
                env = dict(os.environ, **cache_env(impl, directory))
                # Python's default bytecode cache: installed peers read their .pyc files,
                # so symgraph (often an editable install) must not recompile its sources.
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                runs = ("cold", "warm") if CACHE_ENV[impl] else ("cold",)
                if impl == "symgraph":   # a new graph; the kernels' cache kept
                    runs += ("new graph",)
                for run in runs:
                    if run == "new graph":
                        env["SYMGRAPH_CACHE_DIR"] = os.path.join(directory, "second")
                    # A warm start is short and the host's speed varies: the median of
                    # WARM_PROBES processes. Cold and new-graph runs change the cache: one.
                    row = _probe(impl, graph, env, WARM_PROBES if run == "warm" else 1)
                    row.update(case=f"W4 {graph} {run}", impl=impl, label=impl)
                    found.append(row)
                    print(f"  {row['case']:<22} {impl:<14} {row['status']} "
                          f"{row.get('median_s', float('nan')):.2f} s {row['reason']}",
                          file=sys.stderr, flush=True)
    return found


WARM_PROBES = 3


def _probe(impl, graph, env, repeat=1):
    """The W4 row of `repeat` fresh processes: the median and min of their times."""
    rows = [_probe_once(impl, graph, env) for _ in range(repeat)]
    timed = sorted((r for r in rows if "median_s" in r), key=lambda r: r["median_s"])
    if len(timed) < len(rows):
        return next(r for r in rows if "median_s" not in r)  # a failure is the row
    row = dict(timed[(len(timed) - 1) // 2])  # the median process, with its notes
    if repeat > 1:
        row["min_s"] = timed[0]["median_s"]
        row["reason"] = f"median of {repeat} processes; {row['reason']}"
    return row


def _probe_once(impl, graph, env):
    from benchmarks.common import describe
    if impl == "pytensor":
        if not os.path.exists(PYTENSOR_PYTHON):
            return {"status": "unavailable", "reason": "no venv at benchmarks/.venv-pytensor"}
        command = [PYTENSOR_PYTHON, "-m", "benchmarks.peer_pytensor", "--probe", graph]
    else:
        command = [sys.executable, "-m", "benchmarks.compile_latency", "--impl", impl,
                   "--graph", graph]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": "timed out after 600 s"}
    process_s = time.perf_counter() - t0
    try:
        result = _last_json(done.stdout)
    except ValueError as exc:
        lines = done.stderr.strip().splitlines()
        tail = f" (exit {done.returncode}: {lines[-1][:120]})" if lines else ""
        return {"status": "failed", "reason": describe(exc) + tail}
    row = {"status": result["status"], "reason": result["reason"]}
    if "first_s" in result:
        row["median_s"] = result["first_s"]
        note = f"import {result['import_s']:.2f} s, whole process {process_s:.2f} s"
        row["reason"] = f"{row['reason']}; {note}" if row["reason"] else note
    return row


# ---------------------------------------------------------------- the table

def fmt_time(seconds):
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(rows, case_order, impl_order):
    """The rows as text, grouped by case; ratios are time / time (below 1 is faster)."""
    head = (f"{'workload':<22} {'implementation':<16} {'median':>10} {'min':>10} "
            f"{'1st call':>10} {'/NumPy':>7} {'/best':>7}  note")
    lines = [head, "-" * len(head)]
    for case in case_order:
        group = [r for r in rows if r["case"] == case]
        group.sort(key=lambda r: impl_order.index(r["impl"]))
        timed = {r["impl"]: r["median_s"] for r in group
                 if r["status"] == "ok" and "median_s" in r}
        numpy_s = timed.get("numpy")
        peers = {i: t for i, t in timed.items() if i != "symgraph"}
        best = min(peers, key=peers.get) if peers else None
        for r in group:
            start = f"{case:<22} {r['label']:<16} "
            if "median_s" not in r:
                lines.append(start + f"{r['status']}: {r['reason']}")
                continue
            ok = r["status"] == "ok"
            vs_numpy = f"{r['median_s'] / numpy_s:.2f}" if numpy_s and ok else ""
            vs_best = f"{r['median_s'] / peers[best]:.2f}" if best and ok else ""
            note = r["reason"] if ok else f"{r['status'].upper()}: {r['reason']}"
            if r["impl"] == best:
                note = "best peer" + ("; " + note if note else "")
            lines.append(start + f"{fmt_time(r['median_s']):>10} {fmt_time(r.get('min_s')):>10}"
                         f" {fmt_time(r.get('first_s')):>10} {vs_numpy:>7} {vs_best:>7}  "
                         + note)
        lines.append("")
    return lines


def main(argv=None):
    args = parse(argv)
    limit_threads(args.threads)
    from benchmarks.cases import IMPLS, all_cases
    started = time.perf_counter()
    lines = header(args)
    print("\n".join(lines), flush=True)
    print("progress (stderr):", file=sys.stderr, flush=True)
    cases = all_cases(args.size, args.only)
    rows = []
    for impl in args.impl:
        rows += impl_rows(args, impl, cases)
    if "W4" in args.only:
        rows += compile_latency_rows(args)
    case_order = list(dict.fromkeys([c.name for c in cases] + [r["case"] for r in rows]))
    case_order.sort(key=lambda name: args.only.index(name.split()[0]))
    body = table(rows, case_order, list(IMPLS))
    footer = (f"times: median and min of the repetitions; 1st call includes building and "
              f"compiling. /NumPy and /best: median over the NumPy row's and the fastest "
              f"non-symgraph row's median (below 1 is faster). W4: seconds to build, compile "
              f"and run once in a fresh process. Total run {time.perf_counter() - started:.0f} s.")
    print("\n" + "\n".join(body) + footer, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": lines, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
