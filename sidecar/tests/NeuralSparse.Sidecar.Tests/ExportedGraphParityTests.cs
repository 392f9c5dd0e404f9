using NeuralSparse.Tests;
using Xunit.Abstractions;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// Graphs that PyTorch's own exporter wrote (HF-shaped BERT and DistilBERT masked-LMs, torch.onnx.export at opsets
/// 11, 14 and 17, seeded random weights at σ≈0.3) served by the sidecar over HTTP, against PyTorch's float64 forward
/// and OpenSearch's pooling (tools/reference). The sidecar's float32 error must stay within a small multiple of
/// PyTorch's own float32-vs-float64 error on the same texts; both numbers are printed.
/// </summary>
public sealed class ExportedGraphParityTests(ExportedGraphHost host, ITestOutputHelper output) : IClassFixture<ExportedGraphHost>
{
    private static readonly string[] Models = ["bert-bi", "bert-doc", "distilbert-bi", "distilbert-doc"];

    public static TheoryData<string, int> Graphs()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in Models)
        {
            foreach (int opset in new[] { 11, 14, 17 })
            {
                data.Add(model, opset);
            }
        }

        return data;
    }

    [PyTorchReferenceFact]
    public async Task Tokenize_FixtureTexts_GiveHuggingFaceTokenizersIds()
    {
        output.WriteLine($"reference: {PyTorchReference.Directory} (generated in this process in {PyTorchReference.GenerationTime.TotalSeconds:F1} s; 0 = cached)");
        foreach (string model in new[] { "bert-bi-opset17", "distilbert-doc-opset17" })
        {
            ReferenceOutputs reference = host.ReferenceOf(model);
            int[][] ids = await host.TokenizeAsync(model, reference.Texts);
            string[] differing = [.. reference.Texts.Select((t, i) => Difference(t, ids[i])).OfType<string>()];

            output.WriteLine($"{model}: {reference.Texts.Count - differing.Length} of {reference.Texts.Count} texts tokenized as Hugging Face does");
            Assert.True(differing.Length == 0, $"{model}: the sidecar's ids differ from Hugging Face tokenizers' ({reference.IdsSource}):\n{string.Join('\n', differing)}");
        }
    }

    [PyTorchReferenceTheory]
    [MemberData(nameof(Graphs))]
    public async Task Documents_ExportedGraph_MatchPyTorchWithinItsOwnFloat32Error(string model, int opset)
    {
        string name = $"{model}-opset{opset}";
        ReferenceOutputs reference = host.ReferenceOf(name);
        ReferenceText[] texts = await host.TextsTokenizedAlikeAsync(name, reference, output);
        double ownError = reference.F32VsF64MaxAbs[reference.Activation];

        Dictionary<int, double>[] byId = await host.EncodeAsync(name, "documents", "TOKEN_ID", texts);
        Dictionary<int, double>[] byWord = await host.EncodeAsync(name, "documents", "WORD", texts);

        double worst = 0;
        int tokens = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            ReferenceWeights expected = texts[i].Document[reference.Activation];
            Assert.Equal(byId[i], byWord[i]);
            (double error, int count, string? detail) = ReferenceComparison.Compare(byId[i], expected.TokenIds, expected.F64, ReferenceComparison.ErrorFactor * ownError);
            Assert.True(detail is null, $"{name} '{texts[i].Name}': {detail}");
            worst = Math.Max(worst, error);
            tokens += count;
        }

        output.WriteLine(
            $"{name} ({reference.Activation}, {reference.Mode}): sidecar vs PyTorch float64 max |Δ| {worst:E2}; PyTorch float32 vs float64 {ownError:E2}; {tokens} tokens over {texts.Length} texts, WORD = TOKEN_ID");
    }

    [PyTorchReferenceTheory]
    [MemberData(nameof(Graphs))]
    public async Task Queries_ExportedGraph_DocOnlyGiveIdfAndBiEncoderGiveTheModel(string model, int opset)
    {
        string name = $"{model}-opset{opset}";
        ReferenceOutputs reference = host.ReferenceOf(name);
        ReferenceText[] texts = await host.TextsTokenizedAlikeAsync(name, reference, output);

        foreach (string format in new[] { "TOKEN_ID", "WORD" })
        {
            Dictionary<int, double>[] queries = await host.EncodeAsync(name, "queries", format, texts);
            for (int i = 0; i < texts.Length; i++)
            {
                string? detail = reference.Mode == "doc-only"
                    ? ReferenceComparison.Compare(queries[i], texts[i].IdfQuery.TokenIds, texts[i].IdfQuery.Weights, 1e-6).Detail
                    : ReferenceComparison.Compare(queries[i], texts[i].Document[reference.Activation].TokenIds,
                        [.. texts[i].Document[reference.Activation].F64.Select(w => Math.Min(w, 64))], ReferenceComparison.ErrorFactor * reference.F32VsF64MaxAbs[reference.Activation]).Detail;
                Assert.True(detail is null, $"{name} {format} query '{texts[i].Name}': {detail}");
            }
        }
    }

    private static string? Difference(ReferenceText text, int[] actual)
    {
        if (actual.SequenceEqual(text.Ids))
        {
            return null;
        }

        int at = actual.Zip(text.Ids).TakeWhile(p => p.First == p.Second).Count();
        return $"  '{text.Name}' ({text.Text.Length} chars): {actual.Length} ids vs {text.Ids.Length}, first difference at {at}: "
            + $"sidecar [{string.Join(' ', actual.Skip(at).Take(6))}] vs Hugging Face [{string.Join(' ', text.Ids.Skip(at).Take(6))}]";
    }
}
