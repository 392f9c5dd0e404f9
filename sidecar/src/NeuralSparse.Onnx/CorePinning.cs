using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace NeuralSparse.Onnx;

/// <summary>
/// Gives each thread of a CPU session's runs a core of its own: ONNX Runtime's pool threads through its affinity
/// setting, the thread that calls Run for the length of the run. The threads of a run spin while they wait for each
/// other, so two of them on one core stall the run until the kernel moves one: on a 2-vCPU VM the service's slowest
/// single queries had one core idle for 12 ms while the run's two threads took 4 ms turns on the other
/// (<c>bench/trace/sched_tail.py</c>, docs/benchmarks.md). Linux only, and only where the run's threads fill the
/// process's allowed cores exactly (a VM or a container given its own cores): where the process may use more cores
/// than it runs threads, as on a shared Kubernetes node with a CPU quota, picking cores would stack every replica on
/// the same ones, so the kernel keeps placing the threads. Pinning is best effort: a refused affinity call leaves
/// the thread where it was.
/// </summary>
internal sealed unsafe partial class CorePinning
{
    /// <summary>glibc's <c>cpu_set_t</c>: 1,024 CPUs.</summary>
    private const int MaskBytes = 128;

    private readonly byte[] _callerMask;
    private readonly byte[] _allowedMask;

    private CorePinning(byte[] allowedMask, int[] cores)
    {
        _allowedMask = allowedMask;
        _callerMask = new byte[MaskBytes];
        _callerMask[cores[0] / 8] = (byte)(1 << (cores[0] % 8));
        Cores = cores;
    }

    /// <summary>The cores, the caller's first: CPU numbers as the kernel counts them.</summary>
    public IReadOnlyList<int> Cores { get; }

    /// <summary>
    /// Pinning for a session of <paramref name="threads"/> intra-op threads, or null where there is none: not Linux,
    /// one thread, or a number of threads other than the process's allowed cores.
    /// </summary>
    public static CorePinning? TryCreate(int threads)
    {
        if (!OperatingSystem.IsLinux() || threads < 2 || AllowedCores() is not { } allowed || allowed.Cores.Length != threads)
        {
            return null;
        }

        return new CorePinning(allowed.Mask, allowed.Cores);
    }

    /// <summary>The calling thread's allowed cores (a new thread's are the process's), or null where they cannot be read.</summary>
    internal static (byte[] Mask, int[] Cores)? AllowedCores()
    {
        byte[] mask = new byte[MaskBytes];
        fixed (byte* bits = mask)
        {
            if (GetAffinity(0, MaskBytes, bits) != 0)
            {
                return null;
            }
        }

        return (mask, [.. Enumerable.Range(0, MaskBytes * 8).Where(cpu => (mask[cpu / 8] & (1 << (cpu % 8))) != 0)]);
    }

    /// <summary>The pinning <paramref name="options"/> ask for: see <see cref="OnnxBackendOptions.PinThreads"/>.</summary>
    public static CorePinning? For(OnnxBackendOptions options) =>
        options.PinThreads ? TryCreate(options.EffectiveIntraOpThreads) : null;

    /// <summary>The pinning a session created with <paramref name="requested"/> has: none once it runs on CUDA (after any fallback).</summary>
    public static CorePinning? InEffect(CorePinning? requested, ExecutionDevice device) =>
        device == ExecutionDevice.Cpu ? requested : null;

    /// <summary>For a backend's description: where its threads run, or nothing where they are not pinned.</summary>
    public static string Describe(CorePinning? pinning) =>
        pinning is null ? string.Empty : $" on cores {string.Join(", ", pinning.Cores)}";

    /// <summary>Pins the session's pool threads: ONNX Runtime numbers processors from 1 and pins all threads but the caller.</summary>
    public void ApplyTo(SessionOptions options) =>
        options.AddSessionConfigEntry("session.intra_op_thread_affinities",
            string.Join(';', Cores.Skip(1).Select(core => (core + 1).ToString(CultureInfo.InvariantCulture))));

    /// <summary>Pins the calling thread to its core until the returned scope ends; does nothing for null.</summary>
    public static CallerScope PinCaller(CorePinning? pinning)
    {
        if (pinning is null)
        {
            return default;
        }

        fixed (byte* mask = pinning._callerMask)
        {
            return SetAffinity(0, MaskBytes, mask) == 0 ? new CallerScope(pinning) : default;
        }
    }

    /// <summary>Gives the thread back the process's allowed cores (a thread-pool thread goes on to other work).</summary>
    public readonly struct CallerScope : IDisposable
    {
        private readonly CorePinning? _pinning;

        internal CallerScope(CorePinning pinning) => _pinning = pinning;

        public void Dispose()
        {
            if (_pinning is not null)
            {
                fixed (byte* mask = _pinning._allowedMask)
                {
                    _ = SetAffinity(0, MaskBytes, mask);
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_getaffinity")]
    private static partial int GetAffinity(int threadId, nuint size, byte* mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity")]
    private static partial int SetAffinity(int threadId, nuint size, byte* mask);
}
