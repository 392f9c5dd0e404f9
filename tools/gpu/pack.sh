#!/usr/bin/env bash
# Packs what the GPU measurement needs for a bare CUDA 13 machine that has no .NET, no network, and receives files
# in transfers of at most 64 MiB: a self-contained linux-x64 publish of the bench against
# Microsoft.ML.OnnxRuntime.Gpu.Linux (the CUDA provider alone is 284 MB), ICU (the image may lack it), the
# bert-base-uncased tokenizer and idf table, compressed with xz (the far side unpacks it with Python's standard
# library, the one tool such an image is sure to have) and split into parts.
#
#   tools/gpu/pack.sh [out-dir]            default out-dir: artifacts/gpu (git-ignored)
#
# Writes part0, part1, … (each <= PART_MIB MiB, default 60) and SHA256SUMS. CUDA, cuBLAS and cuDNN are NOT shipped:
# device.sh takes them from the machine (the CUDA toolkit and the PyTorch environment's nvidia/* wheels).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/artifacts/gpu}
part_mib=${PART_MIB:-60}
shared=${NEURAL_SPARSE_SHARED_DIR:-$root/../shared}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

rm -rf "$out"
mkdir -p "$out" "$stage/bundle/bert"

dotnet publish "$root/bench/NeuralSparse.Bench/NeuralSparse.Bench.csproj" -c Release -r linux-x64 --self-contained \
  -p:OnnxRuntimeFlavor=Gpu -o "$stage/bundle/app" -v:q -nologo

for lib in libicuuc.so.72 libicui18n.so.72 libicudata.so.72; do
  cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$stage/bundle/app/"
done
cp "$shared/data/bert-base-uncased/tokenizer.json" "$shared/data/bert-base-uncased/idf.json" \
  "$shared/data/bert-base-uncased/vocab.txt" "$stage/bundle/bert/"
git -C "$root" rev-parse HEAD > "$stage/bundle/COMMIT"

echo "publish: $(du -sh "$stage/bundle" | cut -f1) uncompressed" >&2
tar -C "$stage/bundle" -cf - . | xz -9e -T"$(nproc)" > "$stage/bundle.tar.xz"
split -b "${part_mib}M" -d -a 1 "$stage/bundle.tar.xz" "$out/part"
(cd "$out" && sha256sum part* > SHA256SUMS)
sha256sum "$stage/bundle.tar.xz" | cut -d' ' -f1 > "$out/BUNDLE.sha256"
ls -l "$out" >&2
