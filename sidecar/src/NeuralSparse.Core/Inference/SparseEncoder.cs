using System.Buffers;
using System.Numerics.Tensors;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Inference;

/// <summary>Batching limits of a <see cref="SparseEncoder"/>.</summary>
public sealed record SparseEncoderOptions
{
    /// <summary>Most texts in one model run. Defaults to 32.</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>
    /// Most padded tokens (rows × longest row) in one model run. Defaults to 4,096. With the chunked head (the
    /// default) memory no longer limits it (doc-v2-mini peaks at 735 MiB for 8,192 tokens), but on a 2-core CPU one
    /// run of 8,192 tokens was still 0.87–0.97× as fast as two runs of 4,096 on the same texts (docs/benchmarks.md);
    /// GPUs take larger runs (the Helm chart sets 16,384).
    /// </summary>
    public int MaxBatchTokens { get; init; } = 4_096;
}

/// <summary>
/// Turns texts into sparse vectors. Documents (and bi-encoder queries) go through the model: tokenize, batch by
/// length, run, zero special tokens, apply the model-side prune, keep positive finite weights, apply the request's
/// prune rule. Doc-only queries are weighted by the idf table without running the model. A blank text (see
/// <see cref="IsBlank"/>) is an empty vector, document or query, without a model run. Thread-safe.
/// </summary>
public sealed class SparseEncoder : IDisposable
{
    private readonly ISparseModelBackend _backend;
    private readonly SparseEncoderOptions _options;

    /// <summary>Creates an encoder over a loaded model and its backend; the encoder owns the backend.</summary>
    public SparseEncoder(SparseModelDefinition model, ISparseModelBackend backend, SparseEncoderOptions? options = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        _options = options ?? new SparseEncoderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBatchSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBatchTokens, 1, nameof(options)); // a longer text runs alone
    }

    /// <summary>The model this encoder serves.</summary>
    public SparseModelDefinition Model { get; }

    /// <summary>The backend's description (runtime, device, threads, pooling).</summary>
    public string BackendDescription => _backend.Description;

    /// <summary>The backend the model runs on (for hosts that report backend-specific facts, such as the device).</summary>
    public ISparseModelBackend Backend => _backend;

    /// <summary>Token ids of <paramref name="text"/> as the model sees it ([CLS] … [SEP], truncated to the max length).</summary>
    public int[] Tokenize(string text) => Model.Tokenizer.Encode(text, Model.MaxLength);

    /// <summary>Encodes documents through the model. Results are in input order; a blank text gives an empty vector.</summary>
    public IReadOnlyList<SparseVector> EncodeDocuments(
        IReadOnlyList<string> texts, SparsePruneRule? prune = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return EncodeWithModel(TokenizeAll(texts), prune ?? SparsePruneRule.None, _options, cancellationToken);
    }

    /// <summary>
    /// Encodes queries: through the idf table for doc-only models (no model run), through the model for bi-encoders.
    /// </summary>
    public IReadOnlyList<SparseVector> EncodeQueries(
        IReadOnlyList<string> texts, SparsePruneRule? prune = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        prune ??= SparsePruneRule.None;
        if (Model.Mode == SparseModelMode.BiEncoder)
        {
            return EncodeWithModel(TokenizeAll(texts), prune, _options, cancellationToken);
        }

        IdfTable idf = Model.Idf ?? throw new NeuralSparseException(
            NeuralSparseErrorKind.UnsupportedOperation, $"Model '{Model.Name}' is doc-only and has no idf.json, so it cannot encode queries.");
        var results = new SparseVector[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            results[i] = prune.Apply(EncodeQueryByIdf(texts[i], idf));
        }

        return results;
    }

    /// <inheritdoc />
    public void Dispose() => _backend.Dispose();

    /// <summary>
    /// Whether tokens from <see cref="Tokenize"/> hold nothing but [CLS] and [SEP]: the text was empty, whitespace, or
    /// only characters the normalizer removes (controls, zero-width formats, U+FFFD). A text without words gets no
    /// weights, rather than the model's output for [CLS] [SEP]: generic tokens every blank document would share.
    /// neural-search never sends a blank field (docs/sidecar.md), so this decides what direct callers get.
    /// </summary>
    internal static bool IsBlank(ReadOnlySpan<int> tokens) => tokens.Length <= 2;

    /// <summary>Runs already-tokenized texts through the model, unpruned, with the given batch limits (the scheduler's path).</summary>
    internal IReadOnlyList<SparseVector> EncodeTokenized(int[][] tokens, SparseEncoderOptions batching, CancellationToken cancellationToken) =>
        EncodeWithModel(tokens, SparsePruneRule.None, batching, cancellationToken);

    private SparseVector EncodeQueryByIdf(string text, IdfTable idf)
    {
        // Each distinct non-special token of the (truncated) query weighs its idf, as ml-commons' SPARSE_TOKENIZE does.
        int[] tokens = Tokenize(text);
        if (IsBlank(tokens))
        {
            return SparseVector.Empty;
        }

        var weights = new Dictionary<int, float>();
        foreach (int id in tokens)
        {
            if (!Model.SpecialTokenIds.Contains(id))
            {
                weights[id] = idf[id];
            }
        }

        return SparseVector.FromPairs(weights);
    }

    private int[][] TokenizeAll(IReadOnlyList<string> texts)
    {
        var tokens = new int[texts.Count][];
        for (int i = 0; i < texts.Count; i++)
        {
            tokens[i] = Tokenize(texts[i] ?? throw NeuralSparseException.Validation($"Text at index {i} is null."));
        }

        return tokens;
    }

    private SparseVector[] EncodeWithModel(int[][] tokens, SparsePruneRule prune, SparseEncoderOptions batching, CancellationToken cancellationToken)
    {
        prune.Validate();
        var results = new SparseVector[tokens.Length];

        int[] withContent = [.. Enumerable.Range(0, tokens.Length).Where(i => !IsBlank(tokens[i]))];
        foreach (int i in Enumerable.Range(0, tokens.Length).Except(withContent))
        {
            results[i] = SparseVector.Empty;
        }

        IReadOnlyList<int[]> batches = BatchPlanner.Plan(
            [.. withContent.Select(i => tokens[i].Length)], batching.MaxBatchSize, batching.MaxBatchTokens);
        foreach (int[] batch in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] members = [.. batch.Select(b => withContent[b])];
            RunBatch(tokens, members, prune, results, cancellationToken);
        }

        return results;
    }

    private void RunBatch(int[][] tokens, int[] members, SparsePruneRule prune, SparseVector[] results, CancellationToken cancellationToken)
    {
        int rows = members.Length;
        int sequenceLength = members.Max(m => tokens[m].Length);
        int vocabularySize = Model.Tokenizer.VocabularySize;
        int elements = rows * sequenceLength;

        long[] inputIds = ArrayPool<long>.Shared.Rent(elements);
        long[] attentionMask = ArrayPool<long>.Shared.Rent(elements);
        float[] output = ArrayPool<float>.Shared.Rent(rows * vocabularySize);
        try
        {
            Array.Clear(attentionMask, 0, elements);
            Array.Fill(inputIds, Model.Tokenizer.PadId, 0, elements);
            for (int r = 0; r < rows; r++)
            {
                int[] ids = tokens[members[r]];
                for (int s = 0; s < ids.Length; s++)
                {
                    inputIds[(r * sequenceLength) + s] = ids[s];
                    attentionMask[(r * sequenceLength) + s] = 1;
                }
            }

            _backend.Run(new ModelBatch(inputIds, attentionMask, rows, sequenceLength), output.AsSpan(0, rows * vocabularySize), cancellationToken);

            for (int r = 0; r < rows; r++)
            {
                results[members[r]] = prune.Apply(ToSparse(output.AsSpan(r * vocabularySize, vocabularySize)));
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(inputIds);
            ArrayPool<long>.Shared.Return(attentionMask);
            ArrayPool<float>.Shared.Return(output);
        }
    }

    private SparseVector ToSparse(Span<float> weights)
    {
        foreach (int id in Model.SpecialTokenIds)
        {
            weights[id] = 0f;
        }

        if (Model.ModelPruneRatio > 0f)
        {
            // The model-side rule of OpenSearch's hosted artifacts is strict: keep w > ratio × max.
            float threshold = Model.ModelPruneRatio * TensorPrimitives.Max(weights);
            for (int i = 0; i < weights.Length; i++)
            {
                if (weights[i] <= threshold)
                {
                    weights[i] = 0f;
                }
            }
        }

        return SparseVector.FromDense(weights, Model.SpecialTokenIds);
    }
}
