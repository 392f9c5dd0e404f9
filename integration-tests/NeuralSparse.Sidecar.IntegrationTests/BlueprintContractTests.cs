using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>
/// For every connector blueprint: render the request exactly as ml-commons does and send it to a live sidecar, then
/// check the answer as neural-search would accept it. The sidecar serves lookup-table models under the names the
/// blueprints use, with an API key, so the credential path is exercised too.
/// </summary>
public sealed partial class BlueprintContractTests : IAsyncLifetime
{
    private const string ApiKey = "blueprint-test-key-0123456789";

    /// <summary>Texts that break naive templating: quotes, backslashes, control characters, emoji, many scripts.</summary>
    internal static readonly string[] HostileTexts =
    [
        "Currently New York is rainy.",
        "She said \"hello\" and left",
        @"C:\path\to\file and a trailing backslash \",
        "line one\nline two\r\nline three",
        "tab\tseparated\tvalues",
        "emoji 😀 🚀 and a flag 🇳🇴",
        "中文 日本語 한국어",
        "Ελληνικά русский עברית العربية हिन्दी",
        "<b>html</b> & 'apostrophes' = fine",
        "line separator \u2028 and paragraph \u2029",
        "control \u0001 char",
    ];

    private static readonly string BlueprintRoot = Path.Combine(SidecarProcess.RepositoryRoot, "connector-blueprints");
    private string _root = null!;
    private SidecarProcess _sidecar = null!;

    public static TheoryData<string> Connectors()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(BlueprintRoot, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            JsonElement body = JsonDocument.Parse(File.ReadAllText(file)).RootElement;
            bool mutualTls = body.TryGetProperty("client_config", out JsonElement config) && config.TryGetProperty("mutual_tls_enabled", out JsonElement m) && m.GetBoolean();
            if (body.TryGetProperty("actions", out _) && !mutualTls) // mutual TLS connectors run in MutualTlsTests
            {
                data.Add(Path.GetRelativePath(BlueprintRoot, file));
            }
        }

        return data;
    }

    public static TheoryData<string> Bodies()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(BlueprintRoot, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(BlueprintRoot, file));
        }

        return data;
    }

    public async Task InitializeAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "blueprints-" + Guid.NewGuid().ToString("N"));
        string bi = LookupTableModel.CreateDirectory(Path.Combine(_root, "bi"), SparseModelMode.BiEncoder);
        string doc = LookupTableModel.CreateDirectory(Path.Combine(_root, "doc"), SparseModelMode.DocOnly);
        _sidecar = await SidecarProcess.StartAsync(
        [
            $"--NeuralSparse:Models:0:Directory={bi}", "--NeuralSparse:Models:0:Name=v2-distill", "--NeuralSparse:Models:0:IntraOpThreads=1",
            $"--NeuralSparse:Models:1:Directory={doc}", "--NeuralSparse:Models:1:Name=doc-v3-distill", "--NeuralSparse:Models:1:IntraOpThreads=1",
            $"--NeuralSparse:Auth:ApiKeys:0={ApiKey}",
        ]);
    }

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [MemberData(nameof(Connectors))]
    public async Task Connector_RenderedAsMlCommonsDoes_GetsAnAnswerNeuralSearchAccepts(string connectorFile)
    {
        JsonElement connector = JsonDocument.Parse(Resolve(File.ReadAllText(Path.Combine(BlueprintRoot, connectorFile)))).RootElement;
        Assert.Equal("http", connector.GetProperty("protocol").GetString());
        Assert.NotEmpty(connector.GetProperty("credential").EnumerateObject()); // ml-commons refuses an empty credential
        Dictionary<string, string> parameters = connector.TryGetProperty("parameters", out JsonElement p)
            ? p.EnumerateObject().ToDictionary(e => e.Name, e => e.Value.ValueKind == JsonValueKind.String ? e.Value.GetString()! : e.Value.GetRawText())
            : [];
        Assert.False(connector.TryGetProperty("post_process_function", out _), "a built-in post-process function rejects sparse maps");

        JsonElement action = Assert.Single(connector.GetProperty("actions").EnumerateArray());
        Assert.Equal("predict", action.GetProperty("action_type").GetString());
        Assert.False(action.TryGetProperty("post_process_function", out _), "a built-in post-process function rejects sparse maps");
        string template = action.GetProperty("request_body").GetString()!;
        string url = action.GetProperty("url").GetString()!;

        // (label, rendered body, query side, token ids, the variant whose answer this one must equal)
        var variants = new List<(string Label, string Body, bool IsQuery, bool TokenIds, string SameAs)>();
        if (template.Contains("${parameters.texts}", StringComparison.Ordinal))
        {
            // An asymmetric model (neural-search 3.5+): texts and content_type, no input and no sparse_embedding_format.
            foreach (string contentType in new[] { "passage", "query" })
            {
                string body = RenderRequestBody(template, new Dictionary<string, string>(parameters)
                {
                    ["texts"] = XContentArray(HostileTexts),
                    ["content_type"] = contentType,
                });
                variants.Add((contentType, body, contentType == "query", false, contentType));
            }
        }
        else
        {
            // Neural-search asks for TOKEN_ID on sparse_vector targets; ml-commons puts it into the parameters, last writer wins.
            string[] formats = parameters.ContainsKey("sparse_embedding_format") ? ["WORD", "TOKEN_ID"] : ["WORD"];
            foreach ((string format, bool htmlEscaping) in formats.SelectMany(f => new[] { (f, false), (f, true) }))
            {
                Dictionary<string, string> effective = new(parameters) { ["sparse_embedding_format"] = format, ["input"] = GsonArray(HostileTexts, htmlEscaping) };
                string body = RenderRequestBody(template, effective);
                variants.Add(($"{format}, HTML escaping {htmlEscaping}", body, url.EndsWith("/queries", StringComparison.Ordinal),
                    body.Contains("TOKEN_ID", StringComparison.Ordinal), format));
            }
        }

        var answers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string label, string body, bool isQuery, bool tokenIds, string sameAs) in variants)
        {
            using JsonDocument parsed = JsonDocument.Parse(body); // ml-commons: "Invalid payload" otherwise
            var request = new HttpRequestMessage(new HttpMethod(action.GetProperty("method").GetString()!), url)
            {
                Content = new StringContent(body, new UTF8Encoding(false)),
            };
            request.Content.Headers.ContentType = null;
            string credential = connector.GetProperty("credential").GetProperty("api_key").GetString()!;
            foreach (JsonProperty header in action.GetProperty("headers").EnumerateObject())
            {
                string value = header.Value.GetString()!.Replace("${credential.api_key}", credential, StringComparison.Ordinal);
                if (!request.Headers.TryAddWithoutValidation(header.Name, value))
                {
                    request.Content.Headers.TryAddWithoutValidation(header.Name, value);
                }
            }

            HttpResponseMessage response = await _sidecar.Http.SendAsync(request);
            string answer = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{connectorFile} ({label}): {(int)response.StatusCode} {answer}");
            AssertNeuralSearchAccepts(answer, HostileTexts.Length, isQuery, tokenIds);

            // An escaped form carries the same texts, so it must encode to the same vectors.
            if (!answers.TryAdd(sameAs, answer))
            {
                Assert.Equal(answers[sameAs], answer);
            }
        }

        if (variants.Count == 2 && variants[0].Label == "passage")
        {
            Assert.NotEqual(answers["passage"], answers["query"]); // a doc-only model: queries take the idf path, not the model
        }
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Body_IsJson_WithOnlyKnownPlaceholders(string bodyFile)
    {
        string text = File.ReadAllText(Path.Combine(BlueprintRoot, bodyFile));
        using JsonDocument document = JsonDocument.Parse(text);
        foreach (Match match in PlaceholderPattern().Matches(text))
        {
            Assert.Contains(match.Groups[1].Value, new[]
            {
                "SIDECAR_URL", "SIDECAR_API_KEY", "CLIENT_CERT_PEM", "CLIENT_KEY_PEM", "SIDECAR_CA_PEM", "CONNECTOR_ID", "MODEL_ID", "QUERY_CONNECTOR_ID", "QUERY_MODEL_ID",
                "parameters.input", "parameters.sparse_embedding_format", "parameters.texts", "parameters.content_type", "credential.api_key",
            });
        }
    }

    [Fact]
    public void IngestPipelines_WriteTheFieldTheIndexMaps()
    {
        foreach (string folder in Directory.EnumerateDirectories(BlueprintRoot))
        {
            string pipeline = Path.Combine(folder, "04-ingest-pipeline.json");
            string index = Path.Combine(folder, "05-create-index.json");
            if (!File.Exists(pipeline) || !File.Exists(index))
            {
                continue;
            }

            JsonElement processor = JsonDocument.Parse(File.ReadAllText(pipeline)).RootElement.GetProperty("processors")[0].GetProperty("sparse_encoding");
            JsonElement properties = JsonDocument.Parse(File.ReadAllText(index)).RootElement.GetProperty("mappings").GetProperty("properties");
            foreach (JsonProperty map in processor.GetProperty("field_map").EnumerateObject())
            {
                Assert.True(properties.TryGetProperty(map.Name, out _), $"{folder}: source field {map.Name} is not mapped");
                string type = properties.GetProperty(map.Value.GetString()!).GetProperty("type").GetString()!;
                Assert.Contains(type, new[] { "rank_features", "sparse_vector" });
            }
        }
    }

    /// <summary>
    /// ml-commons: every ${parameters.X} is replaced by its value verbatim; a placeholder left over is an error. For a
    /// symmetric model, neural-search's texts arrive as <c>input</c>, a JSON array serialized by Gson, which escapes HTML
    /// characters (<c>&lt; &gt; &amp; = '</c> as <c>\u003c</c>…) through 3.2 and not from 3.3 (StringUtils.gson gained
    /// disableHtmlEscaping in ml-commons 3.3.0.0), so both forms are sent.
    /// </summary>
    private static string RenderRequestBody(string template, IReadOnlyDictionary<string, string> parameters)
    {
        string body = template;
        foreach ((string name, string value) in parameters)
        {
            body = body.Replace("${parameters." + name + "}", value, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("${parameters.", body, StringComparison.Ordinal); // "Some parameter placeholder not filled in payload"
        return body;
    }

    /// <summary>
    /// An asymmetric model's <c>texts</c>: neural-search writes them with OpenSearch's XContent JSON builder (Jackson),
    /// which escapes quote, backslash and control characters (\b \t \n \f \r short, others as \u00XX) and leaves
    /// everything else, U+2028/U+2029 and HTML characters included, as it is.
    /// </summary>
    private static string XContentArray(IEnumerable<string> texts) => JavaJsonArray(texts, gson: false, htmlEscaping: false);

    /// <summary>Gson's string escaping: quote, backslash, control characters, U+2028/U+2029, and with HTML escaping on (the
    /// Gson default, ml-commons ≤ 3.2) also <c>&lt; &gt; &amp; = '</c>.</summary>
    internal static string GsonArray(IEnumerable<string> texts, bool htmlEscaping) => JavaJsonArray(texts, gson: true, htmlEscaping);

    /// <summary>A JSON array of strings escaped as Jackson (upper-case hex, nothing beyond control characters) or Gson
    /// (lower-case hex, also U+2028/U+2029 and, with HTML escaping, <c>&lt; &gt; &amp; = '</c>) writes them.</summary>
    private static string JavaJsonArray(IEnumerable<string> texts, bool gson, bool htmlEscaping)
    {
        string hex = gson ? "x4" : "X4";
        var json = new StringBuilder("[");
        foreach (string text in texts)
        {
            json.Append(json.Length > 1 ? ",\"" : "\"");
            foreach (char c in text)
            {
                json.Append(c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    '\b' => "\\b",
                    '\f' => "\\f",
                    '\u2028' or '\u2029' when gson => "\\u" + ((int)c).ToString(hex, CultureInfo.InvariantCulture),
                    '<' or '>' or '&' or '=' or '\'' when htmlEscaping => "\\u" + ((int)c).ToString(hex, CultureInfo.InvariantCulture),
                    < ' ' => "\\u" + ((int)c).ToString(hex, CultureInfo.InvariantCulture),
                    _ => c.ToString(),
                });
            }

            json.Append('"');
        }

        return json.Append(']').ToString();
    }

    /// <summary>neural-search's TokenWeightUtil plus the ingest and query checks (ml-commons-remote-connector.md §3–4).</summary>
    private static void AssertNeuralSearchAccepts(string answer, int texts, bool isQuery, bool tokenIds)
    {
        JsonElement root = JsonDocument.Parse(answer).RootElement;
        JsonElement maps = root.ValueKind == JsonValueKind.Array ? root : root.GetProperty("response");
        Assert.Equal(texts, maps.GetArrayLength());
        foreach (JsonElement map in maps.EnumerateArray())
        {
            Assert.Equal(JsonValueKind.Object, map.ValueKind);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                Assert.True(keys.Add(entry.Name), $"duplicate key {entry.Name}: rank_features refuses it");
                Assert.Equal(JsonValueKind.Number, entry.Value.ValueKind);
                float weight = entry.Value.GetSingle();
                Assert.True(weight > 0 && float.IsFinite(weight), $"weight {weight} of {entry.Name}");
                if (isQuery)
                {
                    Assert.True(weight <= 64, $"query weight {weight} > 64");
                }

                if (tokenIds)
                {
                    Assert.True(int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id) && id >= 0, $"key {entry.Name} is not a token id");
                }
            }
        }
    }

    private string Resolve(string json) => json
        .Replace("${SIDECAR_URL}", _sidecar.Http.BaseAddress!.ToString().TrimEnd('/'), StringComparison.Ordinal)
        .Replace("${SIDECAR_API_KEY}", ApiKey, StringComparison.Ordinal);

    [GeneratedRegex(@"\$\{([A-Za-z_.]+)\}")]
    private static partial Regex PlaceholderPattern();
}
