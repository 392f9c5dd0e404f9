using System.Net;
using System.Text;
using System.Text.Json;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>
/// A Hugging Face model folder served as it is by the real process, in the Helm chart's situation: the model on a
/// mount the service only reads, no writable home (so the built graph goes to the temporary folder), a restart.
/// </summary>
public sealed class HubFolderProcessTests(ModelDirectories models)
    : IClassFixture<ModelDirectories>
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task HubFolder_OnAReadOnlyMountWithoutAWritableHome_IsServedAndItsGraphReusedOnRestart()
    {
        // A tiny BERT masked-LM over the lookup model's small vocabulary, written as the hub writes a repository.
        string vocabulary = Path.Combine(Directory.CreateDirectory(Path.Combine(models.Root, "hub-vocabulary")).FullName, "vocab.txt");
        File.WriteAllLines(vocabulary, LookupTableModel.Vocabulary);
        var spec = new SyntheticModelSpec(SparseModelArchitecture.Bert, 2, 32, 4, 64, LookupTableModel.Vocabulary.Length, Seed: 5, WeightStd: 0.3f);
        SyntheticWeights weights = SyntheticWeights.Generate(spec);
        Array.Clear(weights["cls.predictions.bias"]); // the generator's negative bias suits 30,522 columns, not 36
        string folder = SyntheticHubFolder.Create(Path.Combine(models.Root, "tiny-hub"), weights, vocabulary, idfPath: null, SparseActivation.Log1pRelu);
        Dictionary<string, (long, DateTime)> before = Snapshot(folder);

        string notAFolder = Path.Combine(models.Root, "home-is-a-file");
        File.WriteAllText(notAFolder, "no cache folder can be made under a file");
        string temporary = Directory.CreateDirectory(Path.Combine(models.Root, "tmp")).FullName;
        var environment = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = notAFolder, ["HOME"] = notAFolder, ["TMPDIR"] = temporary };
        string[] args = [$"--model-dir={folder}", "--threads=1"];

        Dictionary<string, float> first;
        await using (SidecarProcess sidecar = await SidecarProcess.StartAsync(args, environment: environment))
        {
            first = await EncodeAsync(sidecar);
            string info = await sidecar.Http.GetStringAsync(new Uri("/v1/info", UriKind.Relative));
            Assert.Contains("graph built from the Hugging Face weights", info, StringComparison.Ordinal);
            Assert.Contains("Built the ONNX graph", sidecar.Output, StringComparison.Ordinal);
            Assert.Equal(0, await sidecar.TerminateAsync(ExitTimeout));
        }

        string entry = Assert.Single(Directory.GetDirectories(Path.Combine(temporary, "neural-sparse", "graphs")));
        await using (SidecarProcess restarted = await SidecarProcess.StartAsync(args, environment: environment))
        {
            Assert.Equal(first, await EncodeAsync(restarted));
            Assert.Contains("reusing the graph built earlier", restarted.Output, StringComparison.Ordinal);
            Assert.Equal(0, await restarted.TerminateAsync(ExitTimeout));
        }

        Assert.Equal([entry], Directory.GetDirectories(Path.Combine(temporary, "neural-sparse", "graphs")));
        Assert.Equal(before, Snapshot(folder));
    }

    private static async Task<Dictionary<string, float>> EncodeAsync(SidecarProcess sidecar)
    {
        HttpResponseMessage response = await sidecar.Http.PostAsync(new Uri("/v1/documents", UriKind.Relative),
            new StringContent("""["hello world, what's the weather in ny now? currently new york is rainy. open search, sparse search!"]""", Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Dictionary<string, float> vector = JsonDocument.Parse(body).RootElement[0].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
        Assert.NotEmpty(vector);
        return vector;
    }

    private static Dictionary<string, (long, DateTime)> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => (new FileInfo(f).Length, File.GetLastWriteTimeUtc(f)));
}
