"""The GPU's measured ceilings, the denominators of the GPU benchmark: dense matrix product rate in fp16 and in fp32
(TF32 off, what an fp32 ONNX graph gets from cuBLAS by default) and device-to-device copy bandwidth, each through
PyTorch with CUDA events, median of repeats after warm-up, on random data (zeros run faster on Hopper)."""
import torch


def median_ms(fn, repeats=20, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def matmul_tflops(dtype, n=8192):
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    ms = median_ms(lambda: a @ b)
    return 2 * n**3 / (ms / 1e3) / 1e12


def main():
    if not torch.cuda.is_available():
        print("no CUDA device visible to PyTorch")
        return
    print(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"fp16_tflops {matmul_tflops(torch.float16):.1f}")
    print(f"fp32_tflops {matmul_tflops(torch.float32):.1f}")
    x = torch.randn(1 << 29, device="cuda", dtype=torch.float16)  # 1 GiB
    y = torch.empty_like(x)
    ms = median_ms(lambda: y.copy_(x))
    print(f"copy_tbps {2 * x.numel() * 2 / (ms / 1e3) / 1e12:.2f}")


if __name__ == "__main__":
    main()
