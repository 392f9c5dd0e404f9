#!/usr/bin/env bash
# Runs on the GPU machine (bare CUDA 13 image with a PyTorch environment, no .NET, no network), in the repository
# copy, with the parts made by tools/gpu/pack.sh arriving in separate transfers.
#
#   tools/gpu/device.sh receive            move the parts carried by this call (artifacts/gpu/*) to $STORE
#   tools/gpu/device.sh run [bench args]   check and join the parts, unpack, find CUDA libraries, measure
#
# Results go to $OUT (the device tool's return folder) or ./gpu-out: bench.md, smi.csv, env.txt, peak.txt.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
store=${STORE:-/tmp/nsgpu}
out=${OUT:-$root/gpu-out}
py=${PYTHON:-python3}
mkdir -p "$store" "$out"

receive() {
  local n=0
  for f in "$root"/artifacts/gpu/part* "$root"/artifacts/gpu/SHA256SUMS "$root"/artifacts/gpu/BUNDLE.sha256; do
    [ -f "$f" ] || continue
    cp "$f" "$store/" && n=$((n + 1))
  done
  echo "received $n file(s); $store holds: $(cd "$store" && ls | tr '\n' ' ')"
}

cuda_library_path() {
  # The CUDA toolkit's runtime libraries, then every nvidia/* wheel's lib folder (cuDNN, cuBLAS, cuRAND, cuFFT).
  local dirs=() d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do [ -d "$d" ] && dirs+=("$d"); done
  while IFS= read -r d; do dirs+=("$d"); done < <(
    "$py" - <<'EOF'
import os, site
seen = set()
for base in site.getsitepackages():
    top = os.path.join(base, "nvidia")
    for folder, _, files in os.walk(top):
        if any(".so" in f for f in files) and folder not in seen:
            seen.add(folder)
            print(folder)
EOF
  )
  local IFS=:
  echo "${dirs[*]}"
}

run() {
  local t0=$SECONDS
  (cd "$store" && sha256sum -c SHA256SUMS) || { echo "part checksum mismatch" >&2; return 1; }
  cat "$store"/part? > "$store/bundle.tar.xz"
  [ "$(sha256sum "$store/bundle.tar.xz" | cut -d' ' -f1)" = "$(cat "$store/BUNDLE.sha256")" ] || { echo "bundle checksum mismatch" >&2; return 1; }
  rm -rf "$store/bundle" && mkdir -p "$store/bundle"
  # The 'tar' extraction filter where this Python has it (3.11.4+, 3.12); older ones extract our own archive as is.
  "$py" -c "import tarfile,sys; kw = {'filter': 'tar'} if hasattr(tarfile, 'tar_filter') else {}; tarfile.open(sys.argv[1], 'r:xz').extractall(sys.argv[2], **kw)" "$store/bundle.tar.xz" "$store/bundle" || return 1
  local app="$store/bundle/app"
  chmod +x "$app/NeuralSparse.Bench"
  echo "unpacked in $((SECONDS - t0)) s (commit $(cat "$store/bundle/COMMIT"))"

  export LD_LIBRARY_PATH="$app:$(cuda_library_path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export ORT_DISABLE_TELEMETRY=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 HOME=${HOME:-/tmp}
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo "missing libraries of the CUDA provider:"
    ldd "$app/libonnxruntime_providers_cuda.so" | grep "not found" || echo "  none"
    nproc; grep -m1 "model name" /proc/cpuinfo
  } > "$out/env.txt" 2>&1
  cat "$out/env.txt"

  # The card's measured ceilings (dense matrix product fp16 / fp32 without TF32, device copy) through PyTorch.
  "$py" "$root/tools/gpu/ceilings.py" > "$out/peak.txt" 2>&1
  cat "$out/peak.txt"
  local peak_fp16 peak_fp32
  peak_fp16=$(awk '/^fp16_tflops/{print $2}' "$out/peak.txt")
  peak_fp32=$(awk '/^fp32_tflops/{print $2}' "$out/peak.txt")

  nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used,clocks.sm,power.draw \
    --format=csv,noheader,nounits -lms 200 > "$out/smi.csv" 2>/dev/null &
  local smi=$!
  "$app/NeuralSparse.Bench" --bert-data "$store/bundle/bert" --model-cache "$store/models" \
    --gpu-peak-tflops "${peak_fp16:-0},${peak_fp32:-0}" --windows "$out/windows.csv" --out "$out/bench.md" "$@" 2>&1 | tee "$out/bench.log"
  local status=${PIPESTATUS[0]}
  kill "$smi" 2>/dev/null
  "$py" "$root/tools/gpu/utilisation.py" "$out/windows.csv" "$out/smi.csv" >> "$out/bench.md" 2>&1
  tail -n 40 "$out/bench.md"
  echo "bench exit $status, total $((SECONDS - t0)) s"
  return "$status"
}

case "${1:-}" in
  receive) receive ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 receive | run [bench args]" >&2; exit 2 ;;
esac
