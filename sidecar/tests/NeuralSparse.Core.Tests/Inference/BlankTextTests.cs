using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Tests.Inference;

/// <summary>
/// The blank-text rule: a text with no tokens between [CLS] and [SEP] is an empty vector, as a document and as a
/// query, for bi-encoder and doc-only models, through the encoder and the scheduler, and the model never runs on it.
/// </summary>
public sealed class BlankTextTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "blank-tests-" + Guid.NewGuid().ToString("N"));
    private readonly EveryRowWeighsBackend _backend = new();

    public BlankTextTests()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), []);
        File.WriteAllLines(Path.Combine(_directory, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]);
        File.WriteAllText(Path.Combine(_directory, "idf.json"), """{ "a": 2.0, "b": 3.0 }""");
    }

    private static readonly string[] Blank =
    [
        "",
        " ",
        "\t\n\r ",
        "\u00A0\u3000\u2028",
        "\u200B\u200D\uFEFF",
        "\u0000\u0007\u001F",
        "\uFFFD",
        " \u202E\u2066 ",
    ];

    public static TheoryData<string> BlankTexts() => [.. Blank];

    [Theory]
    [MemberData(nameof(BlankTexts))]
    public void EncodeDocuments_BlankText_IsEmptyWithoutAModelRun(string text)
    {
        using SparseEncoder encoder = Create("bi-encoder");

        IReadOnlyList<SparseVector> vectors = encoder.EncodeDocuments([text, "a"]);

        Assert.Equal(0, vectors[0].Count);
        Assert.Equal([5], vectors[1].TokenIds);
        Assert.Equal(1, _backend.Rows); // only "a" ran
    }

    [Theory]
    [MemberData(nameof(BlankTexts))]
    public void EncodeQueries_BlankText_IsEmpty_BiEncoderAndDocOnly(string text)
    {
        using SparseEncoder bi = Create("bi-encoder");
        Assert.Equal(0, bi.EncodeQueries([text])[0].Count);

        using SparseEncoder docOnly = Create("doc-only");
        Assert.Equal(0, docOnly.EncodeQueries([text])[0].Count);
        Assert.Equal(0, _backend.Rows);
    }

    [Fact]
    public async Task Scheduler_BlankTexts_AreEmptyForEveryKindAndMode()
    {
        await using var bi = new EncodeScheduler(Create("bi-encoder"), new EncodeSchedulerOptions { MaxWait = TimeSpan.Zero });
        await using var docOnly = new EncodeScheduler(Create("doc-only"), new EncodeSchedulerOptions { MaxWait = TimeSpan.Zero });
        foreach (EncodeScheduler scheduler in new[] { bi, docOnly })
        {
            foreach (EncodeKind kind in new[] { EncodeKind.Document, EncodeKind.Query })
            {
                IReadOnlyList<SparseVector> vectors = await scheduler.EncodeAsync(Blank, kind).WaitAsync(Timeout);
                Assert.All(vectors, v => Assert.Equal(0, v.Count));
            }
        }

        Assert.Equal(0, _backend.Rows);
    }

    [Fact]
    public void EncodeDocuments_SpecialTokenLiteral_IsNotBlank()
    {
        // "[SEP]" typed in the text is a token of its own: the model runs, as Hugging Face's pipeline would.
        using SparseEncoder encoder = Create("bi-encoder");

        Assert.Equal([5], encoder.EncodeDocuments(["[SEP]"])[0].TokenIds);
        Assert.Equal(1, _backend.Rows);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private SparseEncoder Create(string mode)
    {
        File.WriteAllText(Path.Combine(_directory, "neural-sparse.json"), $$"""{ "mode": "{{mode}}" }""");
        return new SparseEncoder(ModelDirectory.Load(_directory), _backend);
    }

    /// <summary>A backend that gives every row weight 1 on token "a" (id 5), so any row it ran shows up.</summary>
    private sealed class EveryRowWeighsBackend : ISparseModelBackend
    {
        private int _rows;

        public int Rows => Volatile.Read(ref _rows);

        public string Description => "every row weighs";

        public void Run(ModelBatch batch, Span<float> output, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref _rows, batch.BatchSize);
            int vocabulary = output.Length / batch.BatchSize;
            output.Clear();
            for (int r = 0; r < batch.BatchSize; r++)
            {
                output[(r * vocabulary) + 5] = 1f;
            }
        }

        public void Dispose()
        {
        }
    }
}
