namespace NeuralSparse.Core.Inference;

/// <summary>
/// The contract between the core and an inference runtime: run one padded batch and return, per row, the
/// max-pooled, activated weights over the vocabulary. Implementations are thread-safe and called concurrently.
/// </summary>
public interface ISparseModelBackend : IDisposable
{
    /// <summary>A one-line description for logs and info output (runtime, device, threads, pooling).</summary>
    string Description { get; }

    /// <summary>
    /// Runs <paramref name="batch"/> and writes [BatchSize × vocabulary] activated weights into
    /// <paramref name="output"/>, row-major.
    /// </summary>
    void Run(ModelBatch batch, Span<float> output, CancellationToken cancellationToken);
}

/// <summary>
/// One padded batch as flat row-major arrays (the TEI backend shape). Padding is [PAD] with mask 0.
/// </summary>
public sealed class ModelBatch
{
    /// <summary>Creates a batch; arrays must hold at least <paramref name="batchSize"/> × <paramref name="sequenceLength"/> entries.</summary>
    public ModelBatch(long[] inputIds, long[] attentionMask, int batchSize, int sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(attentionMask);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        if (inputIds.Length < batchSize * sequenceLength || attentionMask.Length < batchSize * sequenceLength)
        {
            throw new ArgumentException("Input arrays are smaller than batchSize × sequenceLength.");
        }

        InputIds = inputIds;
        AttentionMask = attentionMask;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
    }

    /// <summary>Token ids, [BatchSize × SequenceLength].</summary>
    public long[] InputIds { get; }

    /// <summary>1 for real tokens, 0 for padding, [BatchSize × SequenceLength].</summary>
    public long[] AttentionMask { get; }

    /// <summary>Rows in the batch.</summary>
    public int BatchSize { get; }

    /// <summary>Padded length of every row.</summary>
    public int SequenceLength { get; }

    /// <summary>Number of real elements, BatchSize × SequenceLength.</summary>
    public int ElementCount => BatchSize * SequenceLength;
}
