#!/usr/bin/env python3
"""PyTorch side of the benchmark (issue 11, part 6): the same generated real-shape weights through PyTorch eager and
TorchScript (the form ml-commons runs locally: a traced module with the pooling inside), with Debian's PyTorch.

    /usr/bin/python3 bench/pytorch/bench.py [--models doc-v2-mini,v2-distill] [--seq 128] [--batch 1,8,32]
        [--threads N] [--min-seconds 3] [--modes eager,torchscript] [--blas openblas|reference|system]
        [--dotnet doc-v2-mini=33.7,v2-distill=12.0] [--size real|small] [--model-cache DIR]

Inputs match the .NET bench's encoder table (bench/NeuralSparse.Bench): per (seq, batch), `batch` texts of exactly
`seq` tokens ([CLS] + seq-2 whole-word tokens + [SEP], no padding), one run per batch. The token values do not move
dense timings; tokenization is not timed here (ml-commons tokenizes in Rust through DJL before the TorchScript call).
Each timed call is what py-ml's NeuralSparseModel does: masked-LM forward, max over the sequence of logits × mask,
log(1+relu) (twice for v3), specials zeroed, then the non-zeros pulled out per row.

BLAS: Debian's torch calls the generic libblas.so.3 for its float GEMMs; which library that is depends on
`update-alternatives --config libblas.so.3-x86_64-linux-gnu` (OpenBLAS when libopenblas0-openmp is installed; else the
slow reference BLAS). `--blas openblas` (default) re-runs this script with LD_PRELOAD of
/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 so that the baseline is fair whatever the alternative says;
`--blas reference` preloads the reference BLAS; `--blas system` leaves it. The library that actually ran is printed
(read from /proc/self/maps), with torch.__config__.show().
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "reference"))
BLAS = {
    "openblas": "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3",
    "reference": "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3",
}
HUB = "opensearch-neural-sparse-encoding-"
VOCABULARY = 30522


def reexec_with_blas(choice: str) -> None:
    """LD_PRELOAD must be set before the process starts: run this script again with it."""
    if choice == "system" or os.environ.get("NS_BENCH_BLAS") == choice:
        return
    library = BLAS[choice]
    if not Path(library).exists():
        sys.exit(f"{library} is missing: apt-get install -y {'libopenblas0-openmp' if choice == 'openblas' else 'libblas3'}")
    env = dict(os.environ, NS_BENCH_BLAS=choice, LD_PRELOAD=library + (":" + os.environ["LD_PRELOAD"] if os.environ.get("LD_PRELOAD") else ""))
    if choice == "openblas" and "OPENBLAS_CORETYPE" not in env:
        detected = openblas_core_name(library)
        if core := openblas_core_for_cpu(detected):
            env["OPENBLAS_CORETYPE"] = core
            env["NS_BENCH_OPENBLAS_DETECTED"] = detected
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def cpu_flags() -> set:
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        return set(next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []))


# Kernel sets older than AVX2 + FMA: what OpenBLAS falls back to on a CPU model it does not know.
PRE_AVX2_CORES = {"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn", "Dunnington",
                  "Nehalem", "Sandybridge"}


def openblas_core_name(library: str) -> str:
    import ctypes

    blas = ctypes.CDLL(library)
    blas.openblas_get_corename.restype = ctypes.c_char_p
    return blas.openblas_get_corename().decode()


def openblas_core_for_cpu(detected: str):
    """Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels by CPU model number and falls back to old ones on
    models newer than itself: on Intel's family 6 model 207 (AVX-512) it runs SSE3 "Prescott" kernels, a baseline
    several times too slow. Given its choice, name the kernel set for the instructions the CPU has, as a newer
    OpenBLAS would (None where its choice stands)."""
    flags = cpu_flags()
    if detected not in PRE_AVX2_CORES or not {"avx2", "fma"} <= flags:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    return "Haswell"


def loaded_blas() -> list:
    with open("/proc/self/maps", encoding="utf-8") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    return sorted({f"{p} -> {os.path.realpath(p)}" if os.path.realpath(p) != p else p for p in paths})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="doc-v2-mini,v2-distill")
    parser.add_argument("--seq", default="128")
    parser.add_argument("--batch", default="1,8,32")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--modes", default="eager,torchscript")
    parser.add_argument("--blas", choices=("openblas", "reference", "system"), default="openblas")
    parser.add_argument("--dotnet", default="", help="model=docs/s of the .NET bench at the headline shape, for ratios")
    parser.add_argument("--size", choices=("real", "small"), default="real", help="small: a seconds-long smoke run")
    parser.add_argument("--model-cache", type=Path, default=ROOT / "artifacts" / "bench-models" / "pytorch")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU baseline (then --blas is ignored)")
    parser.add_argument("--dtype", choices=("fp32", "fp16"), default="fp32", help="weights and activations (fp16: CUDA only)")
    parser.add_argument("--vocab", type=Path, default=ROOT.parent / "shared" / "data" / "bert-base-uncased" / "vocab.txt")
    args = parser.parse_args()
    if args.device == "cpu":
        reexec_with_blas(args.blas)

    import torch

    import architectures
    import safetensors_io

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    class SparseEncoder(torch.nn.Module):
        """py-ml NeuralSparseModel's forward: the pooling runs inside the (traced) module."""

        def __init__(self, model, double_log):
            super().__init__()
            self.model, self.double_log = model, double_log

        def forward(self, input_ids, attention_mask):
            logits = self.model(input_ids, attention_mask)[..., :VOCABULARY]  # GTE has 6 extra rows
            values = torch.max(logits.float() * attention_mask.unsqueeze(-1).float(), dim=1).values
            values = torch.log(1 + torch.relu(values))
            if self.double_log:
                values = torch.log(1 + values)
            values[:, list(architectures.SPECIAL_TOKEN_IDS)] = 0
            return values

    names = [n if n.startswith(HUB) else HUB + n for n in args.models.split(",")]
    folder_root = args.model_cache / args.size
    missing = [n for n in names if not (folder_root / n / "model.safetensors").exists()]
    if missing:
        print(f"generating {', '.join(missing)} ({args.size} shape) into {folder_root} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "tools" / "reference" / "generate.py"), "--out", str(folder_root),
                        "--size", args.size, "--no-reference", "--models", ",".join(missing)], check=True)

    x = torch.randn(1024, 1024)
    _ = x @ x  # load the BLAS before reading the maps
    device = torch.device(args.device)
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    if device.type == "cuda":
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name(device)}, {args.dtype}, TF32 off")
        torch.backends.cuda.matmul.allow_tf32 = False
    print(f"torch {torch.__version__}, {args.threads} threads (interop 1), BLAS requested: {args.blas}")
    mapped = loaded_blas()
    print("BLAS mapped: " + ("; ".join(mapped) or "none (torch's own GEMM)")
          + (f"; LD_PRELOAD={os.environ['LD_PRELOAD']} resolves sgemm_ first" if os.environ.get("LD_PRELOAD") else ""))
    if libraries := [path.split(" -> ")[-1] for path in mapped if "libopenblas" in path]:
        detected = os.environ.get("NS_BENCH_OPENBLAS_DETECTED")
        forced = os.environ.get("OPENBLAS_CORETYPE") if not detected else None
        print(f"OpenBLAS kernels: {openblas_core_name(libraries[0])}"
              + (f" (set by this bench: OpenBLAS's own detection chose {detected} for this CPU model; set"
                 " OPENBLAS_CORETYPE yourself to override)" if detected else "")
              + (f" (OPENBLAS_CORETYPE={forced} from the environment, not OpenBLAS's own choice)" if forced else ""))
    import re

    shown = torch.__config__.show()
    print("torch.__config__.show(): " + ", ".join(re.findall(r"(?:BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_OPENMP)=\w+|CPU capability usage: \w+", shown))
          + " (BLAS_INFO=generic: the libblas.so.3 above does the float GEMMs)")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8") if line.startswith("model name")), "unknown")
    flags = cpu_flags()
    print(f"CPU: {cpu}; AVX-512: {'avx512f' in flags}, VNNI: {'avx512_vnni' in flags}, BF16: {'avx512_bf16' in flags}")
    print()
    print("| model | mode | seq | batch | docs/s | GFLOP/doc | GFLOP/s |")
    print("|---|---|---|---|---|---|---|")

    vocab_words = [i for i, t in enumerate(args.vocab.read_text(encoding="utf-8").split("\n")[:VOCABULARY])
                   if len(t) >= 2 and t.isascii() and t.isalpha() and t.islower()] or list(range(1996, 29611))
    generator = torch.Generator().manual_seed(7)
    rates = {}
    for name in names:
        folder = folder_root / name
        config = json.loads((folder / "config.json").read_text())
        model = architectures.build(config)
        architectures.load_state(model, safetensors_io.read(folder / "model.safetensors"))
        encoder = SparseEncoder(model.to(device=device, dtype=dtype), "v3" in name).eval()
        layers = config.get("num_hidden_layers") or config["n_layers"]
        d = config.get("hidden_size") or config["dim"]
        ff = config.get("intermediate_size") or config["hidden_dim"]
        for seq in (int(s) for s in args.seq.split(",")):
            for batch in (int(b) for b in args.batch.split(",")):
                picks = torch.randint(len(vocab_words), (batch, seq - 2), generator=generator)
                body = torch.tensor(vocab_words)[picks]
                ids = torch.cat([torch.full((batch, 1), 101), body, torch.full((batch, 1), 102)], dim=1)
                ids = ids.to(device)
                mask = torch.ones_like(ids)
                flops = seq * (2 * layers * (4 * d * d + 2 * d * ff) + 2 * (d * d + d * VOCABULARY) + 4 * layers * seq * d)
                for mode in args.modes.split(","):
                    with torch.no_grad():
                        runner = torch.jit.trace(encoder, (ids, mask), check_trace=False) if mode == "torchscript" else encoder

                        def call():
                            weights = runner(ids, mask)
                            return [row.nonzero().flatten().tolist() for row in weights.cpu()]

                        call()
                        call()
                        times, started = [], time.perf_counter()
                        while time.perf_counter() - started < args.min_seconds or len(times) < 3:
                            t0 = time.perf_counter()
                            call()
                            times.append(time.perf_counter() - t0)
                    rate = batch / statistics.median(times)
                    rates[(name, mode, seq, batch)] = rate
                    print(f"| {name.removeprefix(HUB)} | {mode} | {seq} | {batch} | {rate:.2f} | {flops / 1e9:.2f} | {rate * flops / 1e9:.1f} |", flush=True)

    print()
    dotnet = dict(item.split("=") for item in args.dotnet.split(",") if item)
    for name in names:
        short = name.removeprefix(HUB)
        for seq in (int(s) for s in args.seq.split(",")):
            for batch in (int(b) for b in args.batch.split(",")):
                eager, script = rates.get((name, "eager", seq, batch)), rates.get((name, "torchscript", seq, batch))
                line = f"{short} {batch}x{seq}:"
                if eager and script:
                    line += f" TorchScript/eager {script / eager:.2f}"
                if short in dotnet and (seq, batch) == (128, 32):
                    net = float(dotnet[short])
                    line += f"; .NET {net:.2f} docs/s = {net / script:.2f}x TorchScript, {net / eager:.2f}x eager" if script and eager else ""
                print(line)
    print("Headline shape: 32 x 128. Goal (issue 11): .NET >= 5x TorchScript. Pass --dotnet MODEL=DOCS_PER_S to print it.")


if __name__ == "__main__":
    main()
