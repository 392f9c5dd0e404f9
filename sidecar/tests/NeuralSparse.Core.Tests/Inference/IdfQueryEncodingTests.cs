using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Tests;

namespace NeuralSparse.Core.Tests.Inference;

/// <summary>Doc-only query encoding against the published goldens (sparse-models.md §4.3), with the real idf.json.</summary>
public sealed class IdfQueryEncodingTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "idf-tests-" + Guid.NewGuid().ToString("N"));

    public static TheoryData<string, Dictionary<string, float>> Goldens() => new()
    {
        {
            "What's the weather in ny now?",
            new() { ["what"] = 2.769884f, ["'"] = 1.575072f, ["s"] = 1.427258f, ["the"] = 0.135302f, ["weather"] = 4.568416f,
                    ["in"] = 0.498926f, ["ny"] = 5.772862f, ["now"] = 3.589550f, ["?"] = 3.331255f }
        },
        { "hello world", new() { ["hello"] = 6.937757f, ["world"] = 3.420869f } },
        { "Hello World", new() { ["hello"] = 6.937757f, ["world"] = 3.420869f } },
        { "flag embedding", new() { ["flag"] = 6.236802f, ["em"] = 5.133614f, ["##bed"] = 6.938223f, ["##ding"] = 6.058348f } },
        { "the the the", new() { ["the"] = 0.135302f } },
    };

    [SharedDataTheory]
    [MemberData(nameof(Goldens))]
    public void EncodeQueries_DocOnly_MatchesPublishedIdfWeights(string query, Dictionary<string, float> expected)
    {
        using SparseEncoder encoder = CreateDocOnlyEncoder();

        IReadOnlyDictionary<string, float> weights = encoder.EncodeQueries([query])[0]
            .ToTokenMap(encoder.Model.Tokenizer.IdToToken, SparseKeyFormat.Word);

        Assert.Equal(expected.Keys.Order(), weights.Keys.Order());
        foreach ((string token, float weight) in expected)
        {
            Assert.Equal(weight, weights[token], 5);
        }
    }

    [SharedDataFact]
    public void EncodeQueries_DocOnly_DropsSpecialsIncludingUnknownAndLiteralMask()
    {
        using SparseEncoder encoder = CreateDocOnlyEncoder();

        SparseVector vector = encoder.EncodeQueries(["hello [MASK] \U0001F600"])[0];

        Assert.Equal([7592], vector.TokenIds);
    }

    [SharedDataFact]
    public void EncodeQueries_DocOnly_AppliesThePruneRule()
    {
        using SparseEncoder encoder = CreateDocOnlyEncoder();

        SparseVector vector = encoder.EncodeQueries(["What's the weather in ny now?"], new SparsePruneRule(SparsePruneType.TopK, 2))[0];

        Assert.Equal([4633, 6396], vector.TokenIds); // weather 4.57 and ny 5.77
    }

    [SharedDataFact]
    public void EncodeQueries_EmptyQuery_IsEmpty()
    {
        using SparseEncoder encoder = CreateDocOnlyEncoder();

        Assert.Equal(0, encoder.EncodeQueries([string.Empty])[0].Count);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private SparseEncoder CreateDocOnlyEncoder()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), []);
        File.Copy(SharedData.TokenizerJson, Path.Combine(_directory, "tokenizer.json"), overwrite: true);
        File.Copy(SharedData.IdfJson, Path.Combine(_directory, "idf.json"), overwrite: true);
        File.WriteAllText(Path.Combine(_directory, "neural-sparse.json"), """{ "preset": "doc-v2-distill" }""");
        return new SparseEncoder(ModelDirectory.Load(_directory), new ModelMustNotRunBackend());
    }

    /// <summary>Doc-only queries never run the model; this backend fails the test if they do.</summary>
    private sealed class ModelMustNotRunBackend : ISparseModelBackend
    {
        public string Description => "none";

        public void Run(ModelBatch batch, Span<float> output, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("A doc-only query ran the model.");

        public void Dispose()
        {
        }
    }
}
