using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Tests.Inference;

public sealed class EncodeSchedulerTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "scheduler-tests-" + Guid.NewGuid().ToString("N"));
    private readonly GateBackend _backend = new();

    public EncodeSchedulerTests()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), []);
        File.WriteAllLines(Path.Combine(_directory, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e"]);
        File.WriteAllText(Path.Combine(_directory, "idf.json"), """{ "a": 2.0, "b": 3.0 }""");
    }

    [Fact]
    public async Task EncodeAsync_ConcurrentRequests_ShareOneModelRun_ResultsRoutedBack()
    {
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.FromMilliseconds(200));

        Task<IReadOnlyList<SparseVector>> first = scheduler.EncodeAsync(["a b", "c"], EncodeKind.Document);
        Task<IReadOnlyList<SparseVector>> second = scheduler.EncodeAsync(["d"], EncodeKind.Document);
        Task<IReadOnlyList<SparseVector>> third = scheduler.EncodeAsync(["e a"], EncodeKind.Document);
        IReadOnlyList<SparseVector>[] results = await Task.WhenAll(first, second, third).WaitAsync(Timeout);

        Assert.Equal(1, _backend.Runs);
        Assert.Equal([5, 6], results[0][0].TokenIds);
        Assert.Equal([7], results[0][1].TokenIds);
        Assert.Equal([8], results[1][0].TokenIds);
        Assert.Equal([5, 9], results[2][0].TokenIds);
    }

    [Fact]
    public void Options_DefaultToContinuousBatching_WithoutAWait() =>
        Assert.Equal(TimeSpan.Zero, new EncodeSchedulerOptions().MaxWait);

    [Fact]
    public async Task EncodeAsync_IdleModel_RunsALoneRequestAtOnce()
    {
        _backend.Close();
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.Zero);

        // An idle model runs on the caller's thread, so the gated run is started from a thread of its own.
        Task<IReadOnlyList<SparseVector>> lone = Task.Run(() => scheduler.EncodeAsync(["a"], EncodeKind.Query));

        // No other request ever comes: the run starts without waiting for company.
        await _backend.Entered.WaitAsync(Timeout);
        _backend.Open();
        Assert.Equal([5], (await lone.WaitAsync(Timeout))[0].TokenIds);
        Assert.Equal([1], _backend.BatchSizes);
    }

    [Fact]
    public async Task EncodeAsync_IdleModel_RunsOnTheCallersThread_AndReturnsACompletedTask()
    {
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.Zero);
        int caller = Environment.CurrentManagedThreadId;

        Task<IReadOnlyList<SparseVector>> lone = scheduler.EncodeAsync(["a b"], EncodeKind.Document);

        Assert.True(lone.IsCompletedSuccessfully);
        Assert.Equal(caller, _backend.LastRunThreadId);
        Assert.Equal([5, 6], (await lone)[0].TokenIds);
        Assert.Equal(0, scheduler.TextsInFlight);
    }

    [Fact]
    public async Task EncodeAsync_OptInWait_NeverRunsOnTheCallersThread()
    {
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.FromMilliseconds(1));
        int caller = Environment.CurrentManagedThreadId;

        Task<IReadOnlyList<SparseVector>> queued = scheduler.EncodeAsync(["a"], EncodeKind.Document);
        await queued.WaitAsync(Timeout);

        Assert.NotEqual(caller, _backend.LastRunThreadId);
    }

    [Fact]
    public async Task EncodeAsync_TextsArrivingDuringARun_FormTheNextRunTogether()
    {
        _backend.Close();
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.Zero);
        Task<IReadOnlyList<SparseVector>> running = Task.Run(() => scheduler.EncodeAsync(["a"], EncodeKind.Document));
        await _backend.Entered.WaitAsync(Timeout);

        Task<IReadOnlyList<SparseVector>>[] arrivals =
        [
            scheduler.EncodeAsync(["b"], EncodeKind.Document),
            scheduler.EncodeAsync(["c", "d"], EncodeKind.Document),
            scheduler.EncodeAsync(["e"], EncodeKind.Query),
        ];
        _backend.Open();
        await running.WaitAsync(Timeout);
        IReadOnlyList<SparseVector>[] results = await Task.WhenAll(arrivals).WaitAsync(Timeout);

        Assert.Equal([1, 4], _backend.BatchSizes);
        Assert.Equal([6], results[0][0].TokenIds);
        Assert.Equal([7], results[1][0].TokenIds);
        Assert.Equal([8], results[1][1].TokenIds);
        Assert.Equal([9], results[2][0].TokenIds);
    }

    [Fact]
    public async Task EncodeAsync_TextsArrivingDuringARun_AreCappedByTheBatchLimit()
    {
        _backend.Close();
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.Zero, maxBatchSize: 2);
        Task<IReadOnlyList<SparseVector>> running = Task.Run(() => scheduler.EncodeAsync(["a"], EncodeKind.Document));
        await _backend.Entered.WaitAsync(Timeout);

        Task<IReadOnlyList<SparseVector>>[] arrivals = [.. new[] { "b", "c", "d" }.Select(t => scheduler.EncodeAsync([t], EncodeKind.Document))];
        _backend.Open();
        await Task.WhenAll([running, .. arrivals]).WaitAsync(Timeout);

        Assert.Equal([1, 2, 1], _backend.BatchSizes);
    }

    [Fact]
    public async Task EncodeAsync_OptInWait_HoldsAnIdleModelForCompanyUntilTheBatchIsFull()
    {
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.FromHours(1), maxBatchSize: 2);

        Task<IReadOnlyList<SparseVector>> first = scheduler.EncodeAsync(["a"], EncodeKind.Document);
        await Task.Delay(50);
        Assert.False(_backend.Entered.IsCompleted); // waiting for company, as configured
        Task<IReadOnlyList<SparseVector>> second = scheduler.EncodeAsync(["b"], EncodeKind.Document);
        await Task.WhenAll(first, second).WaitAsync(Timeout);

        Assert.Equal([2], _backend.BatchSizes);
    }

    [Fact]
    public async Task EncodeAsync_PruneRuleAppliesPerRequest()
    {
        await using EncodeScheduler scheduler = Create();

        IReadOnlyList<SparseVector> pruned = await scheduler.EncodeAsync(["a b c"], EncodeKind.Document, new SparsePruneRule(SparsePruneType.TopK, 1)).WaitAsync(Timeout);
        IReadOnlyList<SparseVector> whole = await scheduler.EncodeAsync(["a b c"], EncodeKind.Document).WaitAsync(Timeout);

        Assert.Single(pruned[0].TokenIds);
        Assert.Equal(3, whole[0].Count);
    }

    [Fact]
    public async Task EncodeAsync_QueryWeights_AreCappedAt64_DocumentWeightsAreNot()
    {
        await using EncodeScheduler scheduler = Create();
        string text = string.Join(' ', Enumerable.Repeat("a", 70)); // "a" weighs 1 + its last position (70, after [CLS]): 71

        SparseVector query = (await scheduler.EncodeAsync([text], EncodeKind.Query).WaitAsync(Timeout))[0];
        SparseVector document = (await scheduler.EncodeAsync([text], EncodeKind.Document).WaitAsync(Timeout))[0];

        Assert.Equal([EncodeScheduler.MaxQueryWeight], query.Weights);
        Assert.Equal([71f], document.Weights);
    }

    [Fact]
    public async Task EncodeAsync_QueueFull_FailsFastAsOverloaded_AndRecovers()
    {
        _backend.Close();
        await using EncodeScheduler scheduler = Create(capacity: 3);
        Task<IReadOnlyList<SparseVector>> running = Task.Run(() => scheduler.EncodeAsync(["a", "b"], EncodeKind.Document));
        await _backend.Entered.WaitAsync(Timeout);

        var error = await Assert.ThrowsAsync<NeuralSparseException>(() => scheduler.EncodeAsync(["c", "d"], EncodeKind.Document));
        Assert.Equal(NeuralSparseErrorKind.Overloaded, error.Kind);
        Assert.Equal(2, scheduler.TextsInFlight);

        _backend.Open();
        await running.WaitAsync(Timeout);
        Assert.Equal(0, scheduler.TextsInFlight);
        Assert.Equal(2, (await scheduler.EncodeAsync(["c", "d"], EncodeKind.Document).WaitAsync(Timeout)).Count);
    }

    [Fact]
    public async Task EncodeAsync_CancelledWhileQueued_FreesItsPlaceAtOnce()
    {
        _backend.Close();
        await using EncodeScheduler scheduler = Create(capacity: 4);
        Task<IReadOnlyList<SparseVector>> running = Task.Run(() => scheduler.EncodeAsync(["a"], EncodeKind.Document));
        await _backend.Entered.WaitAsync(Timeout); // the first request is inside the model run
        using var cancellation = new CancellationTokenSource();
        Task<IReadOnlyList<SparseVector>> queued = scheduler.EncodeAsync(["b", "c"], EncodeKind.Document, cancellationToken: cancellation.Token);
        Assert.Equal(3, scheduler.TextsInFlight);

        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(Timeout));
        Assert.Equal(1, scheduler.TextsInFlight);
        _backend.Open();
        await running.WaitAsync(Timeout);
        Assert.Equal(1, _backend.Runs); // the cancelled texts never ran
    }

    [Fact]
    public async Task DisposeAsync_FinishesAdmittedWork()
    {
        EncodeScheduler scheduler = Create(maxWait: TimeSpan.FromMilliseconds(50));
        Task<IReadOnlyList<SparseVector>> pending = scheduler.EncodeAsync(["a b"], EncodeKind.Document);

        await scheduler.DisposeAsync();

        Assert.True(pending.IsCompletedSuccessfully);
        Assert.Equal([5, 6], (await pending)[0].TokenIds);
        await Assert.ThrowsAsync<NeuralSparseException>(() => scheduler.EncodeAsync(["a"], EncodeKind.Document));
    }

    [Fact]
    public async Task DisposeAsync_WaitsForARunOnACallersThread()
    {
        _backend.Close();
        EncodeScheduler scheduler = Create(maxWait: TimeSpan.Zero);
        Task<IReadOnlyList<SparseVector>> running = Task.Run(() => scheduler.EncodeAsync(["a"], EncodeKind.Document));
        await _backend.Entered.WaitAsync(Timeout);

        Task disposing = scheduler.DisposeAsync().AsTask();
        await Task.Delay(50);
        Assert.False(disposing.IsCompleted); // the run in progress is not cut off
        await Assert.ThrowsAsync<NeuralSparseException>(() => scheduler.EncodeAsync(["b"], EncodeKind.Document));

        _backend.Open();
        await disposing.WaitAsync(Timeout);
        Assert.Equal([5], (await running.WaitAsync(Timeout))[0].TokenIds);
        await scheduler.DisposeAsync().AsTask().WaitAsync(Timeout); // the host may dispose twice
    }

    [Fact]
    public async Task EncodeAsync_DocOnlyQuery_UsesIdfWithoutAModelRun()
    {
        await using EncodeScheduler scheduler = Create(mode: "doc-only");

        IReadOnlyList<SparseVector> result = await scheduler.EncodeAsync(["a b c"], EncodeKind.Query).WaitAsync(Timeout);

        Assert.Equal(0, _backend.Runs);
        Assert.Equal([2f, 3f, 1f], result[0].Weights);
    }

    [Fact]
    public async Task EncodeAsync_BackendFailure_FailsEveryRequestOfTheRun()
    {
        _backend.Failure = new NeuralSparseException(NeuralSparseErrorKind.Backend, "boom");
        await using EncodeScheduler scheduler = Create(maxWait: TimeSpan.FromMilliseconds(100));

        Task<IReadOnlyList<SparseVector>> first = scheduler.EncodeAsync(["a"], EncodeKind.Document);
        Task<IReadOnlyList<SparseVector>> second = scheduler.EncodeAsync(["b"], EncodeKind.Document);

        Assert.Equal("boom", (await Assert.ThrowsAsync<NeuralSparseException>(() => first.WaitAsync(Timeout))).Message);
        Assert.Equal("boom", (await Assert.ThrowsAsync<NeuralSparseException>(() => second.WaitAsync(Timeout))).Message);
        Assert.Equal(0, scheduler.TextsInFlight);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private EncodeScheduler Create(int capacity = 64, TimeSpan? maxWait = null, string mode = "bi-encoder", int maxBatchSize = 32)
    {
        File.WriteAllText(Path.Combine(_directory, "neural-sparse.json"), $$"""{ "mode": "{{mode}}" }""");
        var batching = new SparseEncoderOptions { MaxBatchSize = maxBatchSize };
        var encoder = new SparseEncoder(ModelDirectory.Load(_directory), _backend, batching);
        return new EncodeScheduler(encoder, new EncodeSchedulerOptions { QueueCapacity = capacity, MaxWait = maxWait ?? TimeSpan.Zero, Batching = batching });
    }

    /// <summary>
    /// A backend whose output is 1 + position for every token present, and which can be held shut to keep a run
    /// in progress.
    /// </summary>
    private sealed class GateBackend : ISparseModelBackend
    {
        private readonly ManualResetEventSlim _gate = new(initialState: true);
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<int> _batchSizes = [];
        private int _runs;

        public int Runs => Volatile.Read(ref _runs);

        /// <summary>Rows of every run so far, in order.</summary>
        public int[] BatchSizes
        {
            get
            {
                lock (_batchSizes)
                {
                    return [.. _batchSizes];
                }
            }
        }

        public Task Entered => _entered.Task;

        public Exception? Failure { get; set; }

        public int LastRunThreadId { get; private set; }

        public string Description => "gate";

        public void Close() => _gate.Reset();

        public void Open() => _gate.Set();

        public void Run(ModelBatch batch, Span<float> output, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            LastRunThreadId = Environment.CurrentManagedThreadId;
            lock (_batchSizes)
            {
                _batchSizes.Add(batch.BatchSize);
            }

            _entered.TrySetResult();
            _gate.Wait(cancellationToken);
            if (Failure is not null)
            {
                throw Failure;
            }

            int vocabulary = output.Length / batch.BatchSize;
            output.Clear();
            for (int r = 0; r < batch.BatchSize; r++)
            {
                for (int s = 0; s < batch.SequenceLength; s++)
                {
                    if (batch.AttentionMask[(r * batch.SequenceLength) + s] == 1)
                    {
                        output[(r * vocabulary) + (int)batch.InputIds[(r * batch.SequenceLength) + s]] = 1 + s;
                    }
                }
            }
        }

        public void Dispose() => _gate.Dispose();
    }
}
