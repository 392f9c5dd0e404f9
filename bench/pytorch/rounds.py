#!/usr/bin/python3
"""Interleaved rounds of the .NET encoder and PyTorch on the same shapes, with the ratios per round.

One run of each side is not enough on a shared VM: PyTorch at 32 x 128 swung 20-41 docs/s between runs minutes
apart on the Zen 5 (docs/benchmarks.md). Each round runs the .NET bench's encoder part and then bench.py, under the
same environment (by default glibc's huge pages for both, as the service ships), and the summary gives the
encoder / TorchScript and encoder / eager ratios of each round and their range.

    flock /tmp/ns-cpu.lock /usr/bin/python3 bench/pytorch/rounds.py --rounds 3 --out bench/results/<machine>-pytorch-rounds.md

The .NET bench must be built first: dotnet build -c Release bench/NeuralSparse.Bench
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DLL = ROOT / "bench" / "NeuralSparse.Bench" / "bin" / "Release" / "net10.0" / "NeuralSparse.Bench.dll"


def table_rows(text: str, columns: int) -> list:
    """Rows of the markdown tables in text that have exactly this many cells (header and rule rows excluded)."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == columns and not set(cells[0]) <= set("-:") and cells[0] != "model":
            rows.append(cells)
    return rows


def dotnet_rates(text: str) -> dict:
    """(model, seq, batch) -> encoder docs/s, from the encoder part's table (model | seq | batch | encoder docs/s | ...)."""
    return {(r[0], int(r[1]), int(r[2])): float(r[3]) for r in table_rows(text, 9) if re.fullmatch(r"\d+", r[1])}


def pytorch_rates(text: str) -> dict:
    """(model, mode, seq, batch) -> docs/s, from bench.py's table (model | mode | seq | batch | docs/s | ...)."""
    return {(r[0], r[1], int(r[2]), int(r[3])): float(r[4]) for r in table_rows(text, 7) if r[1] in ("eager", "torchscript")}


def run(command: list, env: dict) -> str:
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="doc-v2-mini,v2-distill")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-cache", default=str(ROOT / "artifacts" / "bench-models"))
    parser.add_argument("--plain", action="store_true", help="without glibc's huge pages (GLIBC_TUNABLES) for both sides")
    parser.add_argument("--out", type=Path, help="also write the whole report here")
    args = parser.parse_args()
    if not DLL.exists():
        sys.exit(f"{DLL} is missing: dotnet build -c Release bench/NeuralSparse.Bench")

    env = dict(os.environ)
    if args.plain:
        env.pop("GLIBC_TUNABLES", None)
    else:
        env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1"
    # OpenBLAS picks its kernels for this CPU by itself; a value inherited from a shell would force others.
    env.pop("OPENBLAS_CORETYPE", None)

    shape = ["--seq", str(args.seq), "--batch", str(args.batch)]
    report = [f"{args.rounds} interleaved rounds: the .NET encoder part, then bench/pytorch, {args.threads} threads, "
              f"{args.batch} x {args.seq}, {'plain processes' if args.plain else 'both with GLIBC_TUNABLES=glibc.malloc.hugetlb=1'}.", ""]
    summary = []
    for round_number in range(1, args.rounds + 1):
        dotnet = run(["dotnet", str(DLL), "--model-cache", args.model_cache, "--parts", "peak,encoder", "--models", args.models,
                      "--threads", str(args.threads), *shape], env)
        pytorch = run([sys.executable, str(ROOT / "bench" / "pytorch" / "bench.py"), "--models", args.models,
                       "--threads", str(args.threads), *shape], env)
        report += [f"## Round {round_number}: .NET", "", dotnet, f"## Round {round_number}: PyTorch", "", pytorch]
        ours, theirs = dotnet_rates(dotnet), pytorch_rates(pytorch)
        for model in args.models.split(","):
            net = ours.get((model, args.seq, args.batch))
            script = theirs.get((model, "torchscript", args.seq, args.batch))
            eager = theirs.get((model, "eager", args.seq, args.batch))
            if not (net and script and eager):
                sys.exit(f"round {round_number}: no {model} {args.batch} x {args.seq} row on one side (.NET {net}, TorchScript {script}, eager {eager})")
            summary.append((round_number, model, net, script, eager))

    lines = ["| round | model | encoder docs/s | TorchScript | eager | encoder / TorchScript | encoder / eager | encoder / faster PyTorch mode |",
             "|---|---|---|---|---|---|---|---|"]
    for round_number, model, net, script, eager in summary:
        lines.append(f"| {round_number} | {model} | {net:.2f} | {script:.2f} | {eager:.2f} | {net / script:.2f} | {net / eager:.2f} | {net / max(script, eager):.2f} |")
    lines.append("")
    for model in args.models.split(","):
        faster = [net / max(script, eager) for _, m, net, script, eager in summary if m == model]
        lines.append(f"{model}: encoder / faster PyTorch mode {min(faster):.2f}-{max(faster):.2f} over {len(faster)} rounds "
                     f"(goal of issue 11: >= 5x TorchScript).")
    report = report[:2] + lines + [""] + report[2:]
    text = "\n".join(report)
    print("\n".join(lines))
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
