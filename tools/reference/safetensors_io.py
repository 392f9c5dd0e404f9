"""A small safetensors writer and reader (no `safetensors` package on Debian).

Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the raw little-endian
tensor bytes, each tensor at its offsets relative to the end of the header. The header is padded with spaces to a
multiple of 8 bytes, as the reference implementation does, so that tensors stay aligned.
"""
import json
import struct

import numpy as np
import torch

_NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def to_storage(tensor: torch.Tensor, dtype: str) -> bytes:
    """The little-endian bytes of `tensor` stored as `dtype` (F32, F16, BF16, F64, I64, I32)."""
    tensor = tensor.detach().contiguous().cpu()
    if dtype == "BF16":
        # bfloat16 is the upper half of float32; round to nearest even as torch does.
        return tensor.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    return tensor.numpy().astype(_NUMPY_DTYPES[dtype]).tobytes()


def round_to(tensor: torch.Tensor, dtype: str) -> torch.Tensor:
    """`tensor` (float32) after a round trip through `dtype`: the values a reader of the file will see."""
    if dtype == "F16":
        return tensor.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return tensor.to(torch.bfloat16).to(torch.float32)
    return tensor


def write(path, tensors: dict, dtype: str = "F32", metadata: dict | None = None, dtypes: dict | None = None) -> None:
    """Write `tensors` (name -> torch.Tensor) in file order sorted by name, each as `dtypes[name]` or `dtype`."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        tensor_dtype = (dtypes or {}).get(name, dtype)
        blob = to_storage(tensors[name], tensor_dtype)
        header[name] = {"dtype": tensor_dtype, "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def read(path) -> dict:
    """Read every tensor of a safetensors file as float32/int64 torch tensors (BF16 and F16 widened to float32)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        shape = info["shape"]
        if info["dtype"] == "BF16":
            halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = halves.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=_NUMPY_DTYPES[info["dtype"]])
            if info["dtype"] == "F16":
                array = array.astype(np.float32)
        tensors[name] = torch.from_numpy(array.reshape(shape).copy())
    return tensors
