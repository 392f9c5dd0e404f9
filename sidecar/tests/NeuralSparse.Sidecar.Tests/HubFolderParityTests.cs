using NeuralSparse.Core.Models;
using NeuralSparse.Tests;
using Xunit.Abstractions;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// Hugging Face model folders (config.json, model.safetensors under Hugging Face's names, tokenizer, idf.json and
/// sentence-transformers modules) written by the PyTorch reference (tools/reference) for BertForMaskedLM,
/// DistilBertForMaskedLM and GTE's NewForMaskedLM, served by the sidecar as they are: the sidecar builds each graph
/// from the weights itself. Weights must match PyTorch's float64 forward within a small multiple of PyTorch's own
/// float32 error (both printed), with the same token sets, for both activations, bi-encoder and doc-only, and GTE
/// beyond 512 tokens.
/// </summary>
public sealed class HubFolderParityTests(HubFolderHost host, ITestOutputHelper output) : IClassFixture<HubFolderHost>
{
    public static TheoryData<string> Folders() => ["bert-bi", "bert-doc", "distilbert-bi", "distilbert-doc", "gte-bi", "gte-doc"];

    [PyTorchReferenceTheory]
    [MemberData(nameof(Folders))]
    public void Folder_ArchitectureModeAndActivation_AreReadFromTheFolder(string folder)
    {
        ReferenceFolder expected = PyTorchReference.ReadIndex().Folders.Single(f => f.Name == folder);

        SparseModelDefinition model = ModelDirectory.Load(Path.Combine(PyTorchReference.Directory, expected.Path));

        Assert.Equal(expected.Mode, ModelWireNames.Of(model.Mode));
        Assert.Equal(expected.Activation, ModelWireNames.Of(model.Activation));
        Assert.Equal(expected.TakesTokenTypeIds, model.Hub!.Config.TakesTokenTypeIds);
        Assert.Equal(expected.ModelType, model.Hub.Config.Architecture switch
        {
            SparseModelArchitecture.Bert => "bert",
            SparseModelArchitecture.DistilBert => "distilbert",
            _ => "new",
        });
    }

    [PyTorchReferenceTheory]
    [MemberData(nameof(Folders))]
    public async Task Documents_HubFolder_MatchPyTorchWithinItsOwnFloat32Error(string folder)
    {
        ReferenceOutputs reference = host.ReferenceOf(folder);
        ReferenceText[] texts = await host.TextsTokenizedAlikeAsync(folder, reference, output);
        double ownError = reference.F32VsF64MaxAbs[reference.Activation];

        Dictionary<int, double>[] byId = await host.EncodeAsync(folder, "documents", "TOKEN_ID", texts);

        double worst = 0;
        int tokens = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            ReferenceWeights expected = texts[i].Document[reference.Activation];
            (double error, int count, string? detail) = ReferenceComparison.Compare(byId[i], expected.TokenIds, expected.F64, ReferenceComparison.ErrorFactor * ownError);
            Assert.True(detail is null, $"{folder} '{texts[i].Name}' ({texts[i].Ids.Length} tokens): {detail}");
            worst = Math.Max(worst, error);
            tokens += count;
        }

        if (reference.Architecture == "NewForMaskedLM")
        {
            // Rotary positions past BERT's 512: the long fixture text runs whole.
            Assert.Contains(texts, t => t.Ids.Length > 1024);
        }

        output.WriteLine(
            $"{folder} ({reference.Architecture}, {reference.Activation}, {reference.Mode}): sidecar vs PyTorch float64 max |Δ| {worst:E2}; PyTorch float32 vs float64 {ownError:E2}; {tokens} tokens over {texts.Length} texts (longest {texts.Max(t => t.Ids.Length)} tokens)");
    }

    [PyTorchReferenceTheory]
    [MemberData(nameof(Folders))]
    public async Task Queries_HubFolder_DocOnlyGiveIdfAndBiEncoderGiveTheModel(string folder)
    {
        ReferenceOutputs reference = host.ReferenceOf(folder);
        ReferenceText[] texts = await host.TextsTokenizedAlikeAsync(folder, reference, output);

        Dictionary<int, double>[] queries = await host.EncodeAsync(folder, "queries", "TOKEN_ID", texts);

        for (int i = 0; i < texts.Length; i++)
        {
            ReferenceWeights document = texts[i].Document[reference.Activation];
            string? detail = reference.Mode == "doc-only"
                ? ReferenceComparison.Compare(queries[i], texts[i].IdfQuery.TokenIds, texts[i].IdfQuery.Weights, 1e-6).Detail
                : ReferenceComparison.Compare(queries[i], document.TokenIds, [.. document.F64.Select(w => Math.Min(w, 64))],
                    ReferenceComparison.ErrorFactor * reference.F32VsF64MaxAbs[reference.Activation]).Detail;
            Assert.True(detail is null, $"{folder} query '{texts[i].Name}': {detail}");
        }
    }
}

/// <summary>The sidecar serving the reference's hub folders as they are, with a private graph cache.</summary>
public sealed class HubFolderHost : ReferenceSidecarHost
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "neural-sparse-hub-parity-" + Guid.NewGuid().ToString("N"));

    protected override IEnumerable<string> GlobalSettings => [$"--NeuralSparse:GraphCacheDirectory={_cache}"];

    private protected override IEnumerable<ReferenceModel> Models(ReferenceIndex index, string root) =>
        index.Folders.Select(f => new ReferenceModel(f.Name, Path.Combine(root, f.Path), f.Reference!,

            // The reference runs each model up to its own position limit (8,192 for GTE); the service default is 512.
            [$"MaxLength={f.MaxLength}"]));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_cache))
        {
            Directory.Delete(_cache, recursive: true);
        }
    }
}
