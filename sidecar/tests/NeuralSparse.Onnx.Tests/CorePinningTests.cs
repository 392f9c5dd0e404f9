using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Tests;

namespace NeuralSparse.Onnx.Tests;

/// <summary>
/// Core pinning, read back from the kernel (<c>/proc</c>): the caller is pinned for the run only, ONNX Runtime's pool
/// thread sits on its own core (its 1-based processor numbers mapped right), and pinned runs give the same weights.
/// </summary>
public sealed class CorePinningTests(SyntheticModelFixture fixture) : IClassFixture<SyntheticModelFixture>
{
    [MultiCoreLinuxFact]
    public void PinCaller_PinsTheThreadForTheScopeOnly()
    {
        CorePinning pinning = Assert.IsType<CorePinning>(CorePinning.TryCreate(AllowedCoreCount));
        string before = AllowedCores("thread-self");

        using (CorePinning.PinCaller(pinning))
        {
            Assert.Equal(pinning.Cores[0].ToString(System.Globalization.CultureInfo.InvariantCulture), AllowedCores("thread-self"));
        }

        Assert.Equal(before, AllowedCores("thread-self"));
        Assert.Equal(AllowedCoreCount, pinning.Cores.Distinct().Count());
    }

    [Fact]
    public void TryCreate_NothingToPin_ReturnsNull()
    {
        Assert.Null(CorePinning.TryCreate(1));
        Assert.Null(CorePinning.TryCreate(1025)); // more threads than any affinity mask holds cores
        Assert.Null(CorePinning.For(new OnnxBackendOptions { IntraOpThreads = AllowedCoreCount, PinThreads = false }));
        if (AllowedCoreCount > 2)
        {
            // Fewer threads than cores: which cores to take is not this process's to decide.
            Assert.Null(CorePinning.TryCreate(AllowedCoreCount - 1));
        }
    }

    [MultiCoreLinuxFact(NeedsSharedData = true)]
    public void Backend_PoolThreadOnItsCore_SameWeightsAsUnpinned()
    {
        SparseModelDefinition model = fixture.Bert.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
        float[] unpinned = TestBatches.Run(model, batch, new OnnxBackendOptions { IntraOpThreads = AllowedCoreCount, PinThreads = false });

        using ISparseModelBackend backend = SparseModelBackends.Create(model, new OnnxBackendOptions { IntraOpThreads = AllowedCoreCount });
        float[] pinned = TestBatches.Run(backend, model, batch);

        string cores = backend.Description.Split("intra-op threads on cores ")[1].Split(')')[0];
        string poolCore = cores.Split(", ")[1];
        // ONNX Runtime starts its pool threads with the session; the one it pinned holds exactly that core.
        Assert.Contains(Directory.GetDirectories("/proc/self/task"), task => AllowedCores($"self/task/{Path.GetFileName(task)}") == poolCore);
        Assert.True(TestBatches.MaxAbsDifference(unpinned, pinned) <= 1e-5, "pinned threads changed the weights");
    }

    private static int AllowedCoreCount => CorePinning.AllowedCores()?.Cores.Length ?? 0;

    /// <summary>The kernel's list of cores a thread may run on (<c>Cpus_allowed_list</c>).</summary>
    private static string AllowedCores(string procPath) =>
        File.ReadLines($"/proc/{procPath}/status").Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim();

    /// <summary>A fact that needs Linux's affinity calls and at least two cores; skipped, with the reason, elsewhere.</summary>
    private sealed class MultiCoreLinuxFactAttribute : FactAttribute
    {
        public MultiCoreLinuxFactAttribute()
        {
            if (!OperatingSystem.IsLinux() || AllowedCoreCount < 2)
            {
                Skip = "Core pinning needs Linux and at least 2 cores.";
            }
        }

        /// <summary>Also skipped where <c>../shared</c> (the generated models' vocabulary) is absent.</summary>
        public bool NeedsSharedData
        {
            get;
            init
            {
                field = value;
                if (value && !SharedData.IsAvailable)
                {
                    Skip ??= SharedData.SkipReason;
                }
            }
        }
    }
}
