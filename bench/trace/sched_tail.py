#!/usr/bin/env python3
"""Who had the CPUs during a running sidecar's slowest single queries.

Sends one short query at a time to a running sidecar over HTTP while `perf sched record` traces every context
switch on the machine (CLOCK_MONOTONIC, the clock this script times with), then sets the slowest requests beside
the typical ones: for each, how long each of the sidecar's threads ran inside the request's window (by name and
thread id; the busiest is ONNX Runtime's pool thread, the run's caller is whichever thread-pool thread took the
request), this client, every other process by name, and the CPU time nobody used ("idle").

A slow request whose run threads ran longer while nothing else ran is the machine (cache, memory, the
hypervisor); one where other threads took the cores names the thread that did; idle time inside a run means its
threads were waiting on each other or off the cores.

    /usr/bin/python3 bench/trace/sched_tail.py --url http://127.0.0.1:8080 --sidecar-pid PID --model v2-distill --requests 1000

Needs root (or perf_event_paranoid <= 0) and Debian's linux-perf. Issue 11's single-query p99.
"""
import argparse
import collections
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

WORDS = ("what is the best way to learn sparse retrieval for search engines with learned term weights and "
         "inverted indexes over large document collections in production clusters running on small machines").split()


def queries(count: int, words: int, seed: int) -> list:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(count)]


def send_all(url: str, model: str, texts: list, count: int) -> list:
    """Sequential requests on one keep-alive connection: (start, end, server ms) per request, monotonic seconds."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    route = f"/v1/models/{model}/queries"
    timings = []
    for i in range(count):
        body = json.dumps([texts[i % len(texts)]])
        start = time.clock_gettime(time.CLOCK_MONOTONIC)
        connection.request("POST", route, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        end = time.clock_gettime(time.CLOCK_MONOTONIC)
        if response.status != 200:
            sys.exit(f"request {i} answered {response.status}")
        server = response.getheader("Server-Timing", "")
        server_ms = float(server.split("dur=")[1].split(",")[0]) if "dur=" in server else float("nan")
        timings.append((start, end, server_ms))
    connection.close()
    return timings


def run_intervals(data: str) -> list:
    """(start, end, cpu, pid, tid, comm) for every stretch a task ran, from perf sched timehist."""
    output = subprocess.run(["perf", "sched", "timehist", "-i", data], capture_output=True, text=True, check=True).stdout
    intervals = []
    for line in output.splitlines():
        fields = line.split()
        # time [cpu] comm[tid/pid] wait sch-delay run; comm may hold spaces, so read it between cpu and the numbers.
        if len(fields) < 6 or not fields[1].startswith("["):
            continue
        try:
            end, run_ms = float(fields[0]), float(fields[-1])
        except ValueError:
            continue
        task = " ".join(fields[2:-3])
        if "[" not in task or task.startswith("<idle>"):
            continue
        name, ids = task.rsplit("[", 1)
        tid, _, pid = ids.rstrip("]").partition("/")
        intervals.append((end - run_ms / 1000, end, int(fields[1].strip("[]")), int(pid or tid), int(tid), name))
    return intervals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", default="v2-distill")
    parser.add_argument("--sidecar-pid", type=int, required=True, help="the sidecar's process id")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--slowest", type=float, default=0.01, help="share of requests called slow")
    parser.add_argument("--words", type=int, default=6)
    args = parser.parse_args()

    texts = queries(256, args.words, seed=78)
    send_all(args.url, args.model, texts, args.warm_up)
    data = os.path.join(tempfile.mkdtemp(prefix="sched-tail-"), "perf.data")
    recorder = subprocess.Popen(["perf", "sched", "record", "-a", "-k", "CLOCK_MONOTONIC", "-o", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    timings = send_all(args.url, args.model, texts, args.requests)
    recorder.send_signal(signal.SIGINT)
    recorder.wait()
    intervals = run_intervals(data)
    print(f"trace: {data} (perf sched timehist -i {data} --state --time START,END shows a window's switches)")

    client_pid = os.getpid()
    cpus = os.cpu_count()
    sidecar_cpu = collections.Counter()
    for start, end, _, pid, tid, _ in intervals:
        if pid == args.sidecar_pid:
            sidecar_cpu[tid] += end - start
    names = {tid: comm for _, _, _, pid, tid, comm in intervals if pid == args.sidecar_pid}
    print("sidecar threads by CPU over the trace: " + ", ".join(
        f"{names[tid]}[{tid}] {seconds:.2f} s" for tid, seconds in sidecar_cpu.most_common(8)))

    def category(pid: int, tid: int, comm: str) -> str:
        if pid == args.sidecar_pid:
            return f"sidecar: {comm}[{tid}]"
        if pid == client_pid:
            return "this client"
        return f"other: {comm}"

    def occupancy(window: tuple) -> collections.Counter:
        begin, finish = window[0], window[1]
        shares = collections.Counter()
        for start, end, _, pid, tid, comm in intervals:
            overlap = min(end, finish) - max(start, begin)
            if overlap > 0:
                shares[category(pid, tid, comm)] += overlap * 1000
        # CPU time nobody used inside the window: threads asleep or waiting on each other.
        shares["idle"] = max(0.0, cpus * (finish - begin) * 1000 - sum(shares.values()))
        return shares

    latencies = sorted(range(len(timings)), key=lambda i: timings[i][1] - timings[i][0])
    slow_count = max(1, int(len(timings) * args.slowest))
    slow = latencies[-slow_count:]
    middle = latencies[len(latencies) // 2 - 25: len(latencies) // 2 + 25]
    ms = [(t[1] - t[0]) * 1000 for t in timings]
    print(f"{len(timings)} requests to {args.model}: client p50 {statistics.median(ms):.2f} ms, "
          f"p99 {sorted(ms)[int(len(ms) * 0.99) - 1]:.2f} ms; server p50 "
          f"{statistics.median(t[2] for t in timings):.2f} ms; {len(intervals)} run stretches traced")

    typical = collections.Counter()
    for i in middle:
        typical.update(occupancy(timings[i]))
    print(f"\nTypical request (mean of the {len(middle)} around the median), ms of CPU inside the window:")
    for name, value in typical.most_common(12):
        print(f"  {value / len(middle):8.2f}  {name}")
    print(f"\nSlowest {slow_count} (client ms, server ms: who ran, ms inside the window):")
    for i in reversed(slow):
        start, end, server_ms = timings[i]
        shares = occupancy(timings[i])
        top = ", ".join(f"{name} {value:.1f}" for name, value in shares.most_common(8) if value >= 0.3)
        print(f"  #{i:4d} at {start:.6f} {(end - start) * 1000:6.1f} {server_ms:6.1f}: {top}")


if __name__ == "__main__":
    main()
