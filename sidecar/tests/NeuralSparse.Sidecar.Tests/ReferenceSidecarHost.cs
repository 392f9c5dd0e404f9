using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using NeuralSparse.Tests;
using Xunit.Abstractions;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>One in-memory sidecar (ASP.NET TestHost) serving every exported graph the reference generator wrote.</summary>
public sealed class ExportedGraphHost : ReferenceSidecarHost
{
    private protected override IEnumerable<ReferenceModel> Models(ReferenceIndex index, string root) =>
        index.Onnx.Select(o => new ReferenceModel(o.Name, Path.Combine(root, o.Path), o.Reference!, []));
}

/// <summary>A served model of the reference generator's output, with its reference file and extra model settings.</summary>
public sealed record ReferenceModel(string Name, string Directory, string Reference, IReadOnlyList<string> Settings);

/// <summary>
/// One in-memory sidecar (ASP.NET TestHost) serving models the reference generator wrote, and the calls the
/// parity tests make to it.
/// </summary>
public abstract class ReferenceSidecarHost : IAsyncLifetime
{
    private const int LongText = 128;

    private WebApplication? _app;
    private HttpClient? _client;
    private Dictionary<string, ReferenceModel> _models = [];
    private Dictionary<string, int> _vocabulary = [];
    private readonly Dictionary<string, ReferenceOutputs> _references = [];

    public async Task InitializeAsync()
    {
        if (PyTorchReference.SkipReason is not null)
        {
            return; // every test here is skipped with that reason
        }

        string root = PyTorchReference.Directory;
        ReferenceModel[] models = [.. Models(PyTorchReference.ReadIndex(), root)];
        _models = models.ToDictionary(m => m.Name);
        _vocabulary = File.ReadAllLines(SharedData.VocabTxt).Select((token, id) => (token, id)).ToDictionary(p => p.token, p => p.id);
        // Parity is what these tests check, not warm-up: a single short run per model keeps start-up short when a
        // dozen graphs load while other test assemblies share the CPU.
        List<string> args = ["--Logging:LogLevel:Default=Warning", "--NeuralSparse:WarmUp:MaxSeconds=0", .. GlobalSettings];
        for (int i = 0; i < models.Length; i++)
        {
            args.Add($"--NeuralSparse:Models:{i}:Directory={models[i].Directory}");
            args.Add($"--NeuralSparse:Models:{i}:Name={models[i].Name}");
            args.Add($"--NeuralSparse:Models:{i}:IntraOpThreads=1");
            args.AddRange(models[i].Settings.Select(setting => $"--NeuralSparse:Models:{i}:{setting}"));
        }

        _app = SidecarApp.Build([.. args], builder => builder.WebHost.UseTestServer());
        await _app.StartAsync();
        _client = _app.GetTestClient();
        // Readiness waits for every graph to load; two minutes is far beyond a quiet machine's few seconds.
        for (int attempt = 0; attempt < 2400; attempt++)
        {
            if ((await _client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"The sidecar serving {string.Join(", ", _models.Keys)} did not become ready.");
    }

    /// <summary>The models to serve (named as the tests address them).</summary>
    private protected abstract IEnumerable<ReferenceModel> Models(ReferenceIndex index, string root);

    /// <summary>Service settings besides the models', as <c>--NeuralSparse:…</c> arguments.</summary>
    protected virtual IEnumerable<string> GlobalSettings => [];

    internal ReferenceOutputs ReferenceOf(string name)
    {
        string file = _models[name].Reference;
        lock (_references)
        {
            if (!_references.TryGetValue(file, out ReferenceOutputs? reference))
            {
                _references[file] = reference = PyTorchReference.ReadOutputs(file);
            }

            return reference;
        }
    }

    internal async Task<int[][]> TokenizeAsync(string model, IReadOnlyList<ReferenceText> texts)
    {
        using JsonDocument json = await PostAsync($"/v1/tokenize?model={model}", JsonSerializer.Serialize(new { texts = texts.Select(t => t.Text) }));
        return [.. json.RootElement.EnumerateArray().Select(e => e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray())];
    }

    /// <summary>
    /// The texts the sidecar tokenizes exactly as Hugging Face does: weights can only be compared on the same ids.
    /// The others are named in the output; <c>Tokenize_FixtureTexts_GiveHuggingFaceTokenizersIds</c> fails for them.
    /// </summary>
    internal async Task<ReferenceText[]> TextsTokenizedAlikeAsync(string model, ReferenceOutputs reference, ITestOutputHelper output)
    {
        int[][] ids = await TokenizeAsync(model, reference.Texts);
        ReferenceText[] alike = [.. reference.Texts.Where((t, i) => ids[i].SequenceEqual(t.Ids))];
        if (alike.Length < reference.Texts.Count)
        {
            output.WriteLine($"not compared (sidecar ids differ from Hugging Face's): {string.Join(", ", reference.Texts.Except(alike).Select(t => t.Name))}");
        }

        Assert.True(alike.Length >= reference.Texts.Count / 2, "most fixture texts tokenize differently; the comparison would prove little");
        return alike;
    }

    /// <summary>
    /// Encodes <paramref name="texts"/>: the short ones in one request (a padded batch), each long one alone (a
    /// 512-token text would pad every row to 512 and the graph's [batch, sequence, vocabulary] logits to 0.7 GB).
    /// The maps come back in input order, keyed by token id whatever the format.
    /// </summary>
    internal async Task<Dictionary<int, double>[]> EncodeAsync(string model, string kind, string format, IReadOnlyList<ReferenceText> texts)
    {
        var results = new Dictionary<int, double>[texts.Count];
        int[] shortTexts = [.. Enumerable.Range(0, texts.Count).Where(i => texts[i].Ids.Length <= LongText)];
        IEnumerable<int[]> requests = [shortTexts, .. Enumerable.Range(0, texts.Count).Where(i => texts[i].Ids.Length > LongText).Select(i => new[] { i })];
        foreach (int[] request in requests.Where(r => r.Length > 0))
        {
            string body = JsonSerializer.Serialize(new { texts = request.Select(i => texts[i].Text), sparse_embedding_format = format });
            using JsonDocument json = await PostAsync($"/v1/models/{model}/{kind}", body);
            Dictionary<int, double>[] maps = [.. json.RootElement.EnumerateArray().Select(map => map.EnumerateObject().ToDictionary(
                p => format == "WORD" ? _vocabulary[p.Name] : int.Parse(p.Name, CultureInfo.InvariantCulture),
                p => p.Value.GetDouble()))];
            for (int j = 0; j < request.Length; j++)
            {
                results[request[j]] = maps[j];
            }
        }

        return results;
    }

    private async Task<JsonDocument> PostAsync(string path, string body)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _client!.PostAsync(new Uri(path, UriKind.Relative), content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text);
    }

    public virtual async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
