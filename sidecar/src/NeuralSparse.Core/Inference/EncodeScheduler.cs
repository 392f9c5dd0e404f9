using System.Diagnostics;
using System.Threading.Channels;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Inference;

/// <summary>What a text is encoded as.</summary>
public enum EncodeKind
{
    /// <summary>A document: always through the model.</summary>
    Document,

    /// <summary>A query: through the model for bi-encoders, through the idf table for doc-only models.</summary>
    Query,
}

/// <summary>Micro-batching and admission limits of an <see cref="EncodeScheduler"/>.</summary>
public sealed record EncodeSchedulerOptions
{
    /// <summary>Most texts waiting or running per model; beyond it requests are refused as overloaded. Defaults to 1,024.</summary>
    public int QueueCapacity { get; init; } = 1024;

    /// <summary>
    /// Opt-in: how long an idle model waits, after the first text arrives, for others to share its run. Defaults to
    /// zero (continuous batching): an idle model starts at once, and texts that arrive during a run form the next
    /// one, so batches grow with load without a lone request ever waiting for company.
    /// </summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.Zero;

    /// <summary>Batching limits of the model runs.</summary>
    public SparseEncoderOptions Batching { get; init; } = new();
}

/// <summary>
/// Serves one model to many concurrent callers with continuous batching: when the model is idle a request runs at
/// once, on its caller's thread; texts that arrive while a run is in progress are merged by the worker into the next
/// run (up to the batch limits, and after an optional <see cref="EncodeSchedulerOptions.MaxWait"/>); results are
/// routed back in order. Admission is bounded by texts in flight, so memory is bounded; a full queue fails fast with
/// <see cref="NeuralSparseErrorKind.Overloaded"/>. A cancelled request frees its place before it runs.
/// </summary>
public sealed class EncodeScheduler : IAsyncDisposable
{
    private readonly SparseEncoder _encoder;
    private readonly EncodeSchedulerOptions _options;
    private readonly Channel<WorkItem> _queue = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _worker;
    private readonly SemaphoreSlim _runLock = new(1, 1); // one model run at a time: the worker's or a caller's
    private int _textsInFlight;
    private bool _disposing;

    /// <summary>Lucene's FeatureField linear query accepts weights in (0, 64]; query vectors are capped to it.</summary>
    public const float MaxQueryWeight = 64f;

    /// <summary>Starts the scheduler's worker for <paramref name="encoder"/>.</summary>
    public EncodeScheduler(SparseEncoder encoder, EncodeSchedulerOptions? options = null)
    {
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _options = options ?? new EncodeSchedulerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.QueueCapacity, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxWait, TimeSpan.Zero, nameof(options));
        _worker = Task.Run(RunAsync);
    }

    /// <summary>The encoder (and so the model) behind this scheduler.</summary>
    public SparseEncoder Encoder => _encoder;

    /// <summary>Texts admitted and not yet answered.</summary>
    public int TextsInFlight => Volatile.Read(ref _textsInFlight);

    /// <summary>Observes each model run: texts, real tokens, duration.</summary>
    public event Action<int, int, TimeSpan>? BatchCompleted;

    /// <summary>Observes each request's tokenization: texts, duration.</summary>
    public event Action<int, TimeSpan>? Tokenized;

    /// <summary>
    /// Encodes <paramref name="texts"/>; results are in input order. Doc-only queries are answered at once from the
    /// idf table. Everything else runs through the model: at once on this thread when the model is idle (the
    /// returned task is then complete), otherwise queued for the next shared run. Query weights are capped at
    /// <see cref="MaxQueryWeight"/>.
    /// </summary>
    /// <exception cref="NeuralSparseException">Overloaded when the queue is full; Validation for a bad prune rule.</exception>
    public Task<IReadOnlyList<SparseVector>> EncodeAsync(
        IReadOnlyList<string> texts, EncodeKind kind, SparsePruneRule? prune = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        prune ??= SparsePruneRule.None;
        prune.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        if (kind == EncodeKind.Query && _encoder.Model.Mode == SparseModelMode.DocOnly)
        {
            return Task.FromResult<IReadOnlyList<SparseVector>>(
                [.. _encoder.EncodeQueries(texts, prune, cancellationToken).Select(v => v.WithMaxWeight(MaxQueryWeight))]);
        }

        if (texts.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<SparseVector>>([]);
        }

        if (Interlocked.Add(ref _textsInFlight, texts.Count) > _options.QueueCapacity)
        {
            Interlocked.Add(ref _textsInFlight, -texts.Count);
            throw new NeuralSparseException(NeuralSparseErrorKind.Overloaded,
                $"Model '{_encoder.Model.Name}' has {_options.QueueCapacity} texts queued or running; retry later.");
        }

        // Tokenize on the caller's thread, so concurrent requests tokenize in parallel with the model run.
        int[][] tokens;
        try
        {
            long started = Stopwatch.GetTimestamp();
            tokens = [.. texts.Select((t, i) => _encoder.Tokenize(t ?? throw NeuralSparseException.Validation($"Text at index {i} is null.")))];
            Tokenized?.Invoke(texts.Count, Stopwatch.GetElapsedTime(started));
        }
        catch
        {
            Interlocked.Add(ref _textsInFlight, -texts.Count);
            throw;
        }

        var item = new WorkItem(tokens, prune, kind == EncodeKind.Query ? MaxQueryWeight : float.PositiveInfinity);
        if (TryRunInline(item))
        {
            return item.Completion.Task;
        }

        if (!_queue.Writer.TryWrite(item))
        {
            Interlocked.Add(ref _textsInFlight, -texts.Count);
            throw new NeuralSparseException(NeuralSparseErrorKind.Overloaded, "The service is shutting down.");
        }

        // A caller that gives up before its run frees its place at once; once the worker took it, the run finishes.
        item.CancellationRegistration = cancellationToken.Register(() =>
        {
            if (item.TryCancel())
            {
                Interlocked.Add(ref _textsInFlight, -item.Tokens.Length);
                item.Completion.TrySetCanceled(cancellationToken);
            }
        });
        return item.Completion.Task;
    }

    /// <summary>Stops admitting work, finishes everything admitted, then stops the worker.</summary>
    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposing, true);
        _queue.Writer.TryComplete();
        await _worker.ConfigureAwait(false);

        // A run on a caller's thread finishes first. The lock is handed back: disposing twice must not hang.
        await _runLock.WaitAsync().ConfigureAwait(false);
        _runLock.Release();
        _stopping.Dispose();
    }

    /// <summary>
    /// An idle model runs a request on the caller's thread, together with anything already queued: a lone request
    /// then costs no hand-off to the worker and back (two thread-pool hops). Only with no opt-in wait, where the
    /// worker would start the same run at once.
    /// </summary>
    private bool TryRunInline(WorkItem item)
    {
        if (_options.MaxWait > TimeSpan.Zero || Volatile.Read(ref _disposing) || !_runLock.Wait(0))
        {
            return false;
        }

        try
        {
            var gathered = new List<WorkItem> { item };
            TakeQueued(gathered, item.Tokens.Length, item.Tokens.Sum(t => (long)t.Length));
            RunGathered(gathered);
        }
        finally
        {
            _runLock.Release();
        }

        return true;
    }

    private async Task RunAsync()
    {
        var gathered = new List<WorkItem>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await _runLock.WaitAsync().ConfigureAwait(false);
            try
            {
                gathered.Clear();
                await GatherAsync(gathered).ConfigureAwait(false);
                RunGathered(gathered);
            }
            finally
            {
                _runLock.Release();
            }
        }
    }

    /// <summary>Adds what is queued now to <paramref name="gathered"/>, up to the batch limits; skips cancelled items.</summary>
    private (int Texts, long Tokens) TakeQueued(List<WorkItem> gathered, int texts, long tokens)
    {
        while (texts < _options.Batching.MaxBatchSize && tokens < _options.Batching.MaxBatchTokens
            && _queue.Reader.TryRead(out WorkItem? item))
        {
            if (item.IsCancelled)
            {
                continue; // its caller gave up: it takes no room in the run
            }

            gathered.Add(item);
            texts += item.Tokens.Length;
            tokens += item.Tokens.Sum(t => (long)t.Length);
        }

        return (texts, tokens);
    }

    /// <summary>
    /// Continuous batching: takes what is queued now (the texts that arrived during the previous run), up to the
    /// limits. Only with the opt-in <see cref="EncodeSchedulerOptions.MaxWait"/> does it wait for more.
    /// </summary>
    private async Task GatherAsync(List<WorkItem> gathered)
    {
        int texts = 0;
        long tokens = 0;
        long deadline = Stopwatch.GetTimestamp() + (long)(_options.MaxWait.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            (texts, tokens) = TakeQueued(gathered, texts, tokens);
            if (texts >= _options.Batching.MaxBatchSize || tokens >= _options.Batching.MaxBatchTokens)
            {
                return;
            }

            TimeSpan remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                // Past the wait: run what was gathered; if every item read was cancelled, the worker's loop waits
                // for new work.
                return;
            }

            using var wait = new CancellationTokenSource(remaining);
            try
            {
                if (!await _queue.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                {
                    return; // completed: run what was gathered
                }
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private void RunGathered(List<WorkItem> gathered)
    {
        List<WorkItem> live = [.. gathered.Where(i => i.TryTake())];

        if (live.Count == 0)
        {
            return;
        }

        int[][] tokens = [.. live.SelectMany(i => i.Tokens)];
        try
        {
            long start = Stopwatch.GetTimestamp();
            IReadOnlyList<SparseVector> vectors = _encoder.EncodeTokenized(tokens, _options.Batching, _stopping.Token);
            BatchCompleted?.Invoke(tokens.Length, tokens.Sum(t => t.Length), Stopwatch.GetElapsedTime(start));

            int offset = 0;
            foreach (WorkItem item in live)
            {
                var results = new SparseVector[item.Tokens.Length];
                for (int i = 0; i < results.Length; i++)
                {
                    results[i] = item.Prune.Apply(vectors[offset + i]).WithMaxWeight(item.MaxWeight);
                }

                offset += results.Length;
                Complete(item, () => item.Completion.TrySetResult(results));
            }
        }
        catch (Exception ex)
        {
            foreach (WorkItem item in live)
            {
                Complete(item, () => item.Completion.TrySetException(ex));
            }
        }
    }

    private void Complete(WorkItem item, Func<bool> setResult)
    {
        item.CancellationRegistration.Dispose();
        Interlocked.Add(ref _textsInFlight, -item.Tokens.Length);
        setResult();
    }

    private sealed class WorkItem(int[][] tokens, SparsePruneRule prune, float maxWeight)
    {
        private const int Pending = 0;
        private const int Taken = 1;
        private const int Cancelled = 2;
        private int _state;

        public int[][] Tokens { get; } = tokens;

        public SparsePruneRule Prune { get; } = prune;

        public float MaxWeight { get; } = maxWeight;

        public CancellationTokenRegistration CancellationRegistration { get; set; }

        /// <summary>The worker claims the item for a run; false if the caller cancelled first.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Pending) == Pending;

        /// <summary>Whether the caller cancelled before the worker took the item.</summary>
        public bool IsCancelled => Volatile.Read(ref _state) == Cancelled;

        /// <summary>The caller cancels; false if the worker already took the item.</summary>
        public bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Pending) == Pending;

        // Continuations run off the worker thread, so a slow caller never stalls the next model run.
        public TaskCompletionSource<IReadOnlyList<SparseVector>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
