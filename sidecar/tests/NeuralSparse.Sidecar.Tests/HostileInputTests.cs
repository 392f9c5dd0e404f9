using System.Globalization;
using System.Net;
using System.Text;
using Google.Protobuf;
using NeuralSparse.Tests;
using Xunit.Abstractions;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>
/// No route answers 5xx, and no gRPC method INTERNAL or UNKNOWN, to any string: seeded mixed-script texts with lone
/// surrogates, control characters and [SEP]-like literals, sent as JSON escapes (as Python's json.dumps writes them)
/// and as raw bytes (lone surrogates as their 3-byte forms, which are invalid UTF-8), to every text-taking HTTP route
/// and gRPC method, plus strings at and past the size limits. Only the status class is asserted.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Seed = 20_240_918;
    private const int Batches = 100;
    private const int MaxTexts = 8;
    private const int MaxCharacters = 3_000;
    private const int MaxBytes = 64 * 1024;
    private const string Encoder = "/neuralsparse.v1.SparseEncoder/";
    private const int GrpcOk = 0;
    private const int GrpcUnknown = 2;
    private const int GrpcInvalidArgument = 3;
    private const int GrpcInternal = 13;

    private static readonly string[] TextRoutes =
    [
        "/v1/documents", "/v1/queries", "/v1/models/bi/documents", "/v1/models/bi/queries",
        "/v1/models/doc/documents", "/v1/models/doc/queries", "/v1/tokenize", "/v1/tokenize?model=doc",
    ];

    private readonly List<string> _failures = [];
    private SidecarTestHost _host = null!;
    private int _requests;

    public async Task InitializeAsync() => _host = await SidecarTestHost.StartAsync(
        $"--NeuralSparse:Limits:MaxTextsPerRequest={MaxTexts}",
        $"--NeuralSparse:Limits:MaxCharactersPerText={MaxCharacters}",
        $"--NeuralSparse:Limits:MaxRequestBytes={MaxBytes}");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task GeneratedStrings_NoHttpRouteAnswers5xx()
    {
        var generator = new MixedScriptText(Seed) { LoneSurrogates = true };
        for (int batch = 0; batch < Batches; batch++)
        {
            string[] texts = NextBatch(generator, batch);
            string where = $"seed {Seed}, batch #{batch}";
            string escaped = JsonArray(texts);
            foreach (string route in TextRoutes)
            {
                // Within every limit: valid text must be answered, text with a lone surrogate refused with a 400.
                await PostAsync(route, Encoding.ASCII.GetBytes(escaped), where, texts, Expected(texts));
                await PostAsync(route, RawJsonArray(texts), where, texts, Expected(texts));
            }

            // The other string fields of the object bodies, and the single-text form of /v1/tokenize.
            string hostile = "\"" + MixedScriptText.Escape(texts[0]) + "\"";
            await PostAsync("/v1/documents", Encoding.ASCII.GetBytes($$"""{"texts": {{escaped}}, "sparse_embedding_format": {{hostile}}}"""), where, texts);
            await PostAsync("/v1/queries", Encoding.ASCII.GetBytes($$"""{"texts": {{escaped}}, "prune_type": {{hostile}}, "prune_ratio": 0.5}"""), where, texts);
            await PostAsync("/v1/tokenize", Encoding.ASCII.GetBytes($$"""{"text": {{hostile}}}"""), where, texts);
            await PostAsync($"/v1/models/{PathSegment(texts[0])}/documents", Encoding.ASCII.GetBytes(escaped), where, texts);
            await PostAsync($"/v1/tokenize?model={PathSegment(texts[0])}", Encoding.ASCII.GetBytes(escaped), where, texts);
            await PostAsync("/v1/decode", Encoding.ASCII.GetBytes(escaped), where, texts); // strings where ids belong
        }

        output.WriteLine($"{_requests} HTTP requests, {_failures.Count} failed.");
        Assert.True(_failures.Count == 0, $"{_failures.Count} of {_requests} requests answered 5xx, or not as expected (200 to valid text, 400 to a lone surrogate); the first:\n{string.Join("\n", _failures.Take(5))}");
    }

    [Fact]
    public async Task GeneratedStrings_NoGrpcMethodAnswersInternalOrUnknown()
    {
        var generator = new MixedScriptText(Seed) { LoneSurrogates = true };
        for (int batch = 0; batch < Batches; batch++)
        {
            string[] texts = NextBatch(generator, batch);
            string where = $"seed {Seed}, batch #{batch}";
            int expected = IsValidUtf16(texts) ? GrpcOk : GrpcInvalidArgument;
            await CallAsync("Encode", EncodeRequest("", texts, kind: 0), where, texts, expected);
            await CallAsync("Encode", EncodeRequest("doc", texts, kind: 1), where, texts, expected);
            await CallAsync("Encode", EncodeRequest(texts[0], texts, kind: 1), where, texts); // hostile model name
            await CallAsync("EncodeStream", [.. EncodeRequest("bi", texts, kind: 1), .. EncodeRequest("doc", texts, kind: 0)], where, texts, expected);
            await CallAsync("Tokenize", EncodeRequest("", texts, kind: 0), where, texts, expected); // TokenizeRequest: same fields 1 and 2
            await CallAsync("/grpc.health.v1.Health/Check", EncodeRequest(texts[0], [], kind: 0), where, texts); // HealthCheckRequest.service is field 1
        }

        output.WriteLine($"{_requests} gRPC calls, {_failures.Count} failed.");
        Assert.True(_failures.Count == 0, $"{_failures.Count} of {_requests} calls failed; the first:\n{string.Join("\n", _failures.Take(5))}");
    }

    public static TheoryData<string, string> EdgeTexts() => new()
    {
        { "Hangul at the character limit", string.Concat(Enumerable.Repeat("한", MaxCharacters)) },
        { "one past the character limit", new string('a', MaxCharacters + 1) },
        { "one word at the limit", new string('x', MaxCharacters) },
        { "[SEP] literals", string.Concat(Enumerable.Repeat("[SEP]", MaxCharacters / 5)) },
        { "NUL characters", new string('\0', MaxCharacters) },
        { "lone high surrogates", new string('\uD800', MaxCharacters) },
        { "lone low surrogates", new string('\uDFFF', MaxCharacters) },
        { "reversed pairs", string.Concat(Enumerable.Repeat("\uDC00\uD800", MaxCharacters / 2)) },
        { "bidi and zero-width only", string.Concat(Enumerable.Repeat("\u202E\u200B\u2066", MaxCharacters / 3)) },
        { "noncharacters", string.Concat(Enumerable.Repeat("\uFFFE\uFFFF", MaxCharacters / 2)) },
        { "combining marks only", new string('\u0301', MaxCharacters) },
    };

    [Theory]
    [MemberData(nameof(EdgeTexts))]
    public async Task EdgeStrings_NoRouteOrMethodFails(string row, string text)
    {
        string[][] batches = [[text], [.. Enumerable.Repeat(text, MaxTexts)], [.. Enumerable.Repeat(text, MaxTexts + 1)]];
        foreach (string[] texts in batches)
        {
            foreach (string route in TextRoutes)
            {
                await PostAsync(route, Encoding.ASCII.GetBytes(JsonArray(texts)), row, texts);
                await PostAsync(route, RawJsonArray(texts), row, texts);
            }

            await CallAsync("Encode", EncodeRequest("", texts, kind: 0), row, texts);
            await CallAsync("Encode", EncodeRequest("doc", texts, kind: 1), row, texts);
            await CallAsync("Tokenize", EncodeRequest("", texts, kind: 0), row, texts);
        }

        Assert.True(_failures.Count == 0, $"{row}: {_failures.Count} of {_requests} requests failed; the first:\n{string.Join("\n", _failures.Take(5))}");
    }

    private static string[] NextBatch(MixedScriptText generator, int batch) =>
        [.. Enumerable.Range(0, 1 + (batch % 4)).Select(_ => generator.Next())];

    private static HttpStatusCode? Expected(string[] texts) => IsValidUtf16(texts) ? HttpStatusCode.OK : HttpStatusCode.BadRequest;

    /// <summary>Whether no text has a lone surrogate, the one thing JSON and protobuf cannot carry as text.</summary>
    private static bool IsValidUtf16(string[] texts) => texts.All(text =>
    {
        for (ReadOnlySpan<char> rest = text; !rest.IsEmpty;)
        {
            if (Rune.DecodeFromUtf16(rest, out _, out int used) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }

            rest = rest[used..];
        }

        return true;
    });

    private async Task PostAsync(string route, byte[] body, string where, string[] texts, HttpStatusCode? expected = null)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using HttpResponseMessage response = await _host.Client.PostAsync(new Uri(route, UriKind.Relative), content);
        _requests++;
        if ((int)response.StatusCode >= 500 || (expected is { } status && response.StatusCode != status))
        {
            string answer = await response.Content.ReadAsStringAsync();
            _failures.Add($"  POST {route} ({where}) answered {(int)response.StatusCode} {answer[..Math.Min(200, answer.Length)]}\n    texts: {Describe(texts)}");
        }
    }

    private async Task CallAsync(string method, byte[] body, string where, string[] texts, int? expected = null)
    {
        GrpcTestClient.GrpcResult result = await GrpcTestClient.CallAsync(_host.Client, method.StartsWith('/') ? method : Encoder + method, body);
        _requests++;
        if (result.HttpStatus != HttpStatusCode.OK || result.Status is null or GrpcUnknown or GrpcInternal || (expected is { } status && result.Status != status))
        {
            _failures.Add($"  {method} ({where}) answered HTTP {(int)result.HttpStatus}, grpc-status {result.Status}: {result.Message}\n    texts: {Describe(texts)}");
        }
    }

    /// <summary>
    /// A framed EncodeRequest written by hand: model (1) and texts (2) as the UTF-8 of their UTF-16 units, lone
    /// surrogates as 3-byte forms (invalid UTF-8, what a careless encoder writes), and kind (3).
    /// </summary>
    private static byte[] EncodeRequest(string model, string[] texts, int kind)
    {
        using var stream = new MemoryStream();
        var writer = new CodedOutputStream(stream);
        if (model.Length > 0)
        {
            writer.WriteTag(1, WireFormat.WireType.LengthDelimited);
            writer.WriteBytes(ByteString.CopyFrom(Utf8OfUnits(model)));
        }

        foreach (string text in texts)
        {
            writer.WriteTag(2, WireFormat.WireType.LengthDelimited);
            writer.WriteBytes(ByteString.CopyFrom(Utf8OfUnits(text)));
        }

        if (kind != 0)
        {
            writer.WriteTag(3, WireFormat.WireType.Varint);
            writer.WriteEnum(kind);
        }

        writer.Flush();
        return Frame(stream.ToArray());
    }

    private static byte[] Frame(byte[] message) =>
        [0, (byte)(message.Length >> 24), (byte)(message.Length >> 16), (byte)(message.Length >> 8), (byte)message.Length, .. message];

    /// <summary>A JSON array with every string escaped to ASCII, as Python's json.dumps writes it (lone surrogates as \ud800).</summary>
    private static string JsonArray(string[] texts) => "[" + string.Join(", ", texts.Select(t => "\"" + MixedScriptText.Escape(t) + "\"")) + "]";

    /// <summary>A JSON array with strings as raw bytes: only quote, backslash and C0 controls escaped.</summary>
    private static byte[] RawJsonArray(string[] texts)
    {
        var bytes = new List<byte> { (byte)'[' };
        foreach (string text in texts)
        {
            if (bytes.Count > 1)
            {
                bytes.Add((byte)',');
            }

            bytes.Add((byte)'"');
            int run = 0;
            for (int i = 0; i <= text.Length; i++)
            {
                if (i < text.Length && text[i] is not ('"' or '\\' or < ' '))
                {
                    continue;
                }

                bytes.AddRange(Utf8OfUnits(text[run..i]));
                if (i < text.Length)
                {
                    bytes.AddRange(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"\\u{(int)text[i]:X4}")));
                }

                run = i + 1;
            }

            bytes.Add((byte)'"');
        }

        bytes.Add((byte)']');
        return [.. bytes];
    }

    /// <summary>UTF-8 of each code point, and of each lone surrogate as if it were one (WTF-8), which UTF-8 decoders refuse.</summary>
    private static byte[] Utf8OfUnits(string text)
    {
        var bytes = new List<byte>(text.Length * 3);
        for (int i = 0; i < text.Length; i++)
        {
            int value = char.IsSurrogatePair(text, i) ? char.ConvertToUtf32(text[i], text[++i]) : text[i];
            switch (value)
            {
                case < 0x80:
                    bytes.Add((byte)value);
                    break;
                case < 0x800:
                    bytes.AddRange([(byte)(0xC0 | (value >> 6)), (byte)(0x80 | (value & 0x3F))]);
                    break;
                case < 0x10000:
                    bytes.AddRange([(byte)(0xE0 | (value >> 12)), (byte)(0x80 | ((value >> 6) & 0x3F)), (byte)(0x80 | (value & 0x3F))]);
                    break;
                default:
                    bytes.AddRange([(byte)(0xF0 | (value >> 18)), (byte)(0x80 | ((value >> 12) & 0x3F)), (byte)(0x80 | ((value >> 6) & 0x3F)), (byte)(0x80 | (value & 0x3F))]);
                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>
    /// A percent-encoded path segment or query value of the text's bytes (as <see cref="Utf8OfUnits"/> writes them),
    /// without NUL: TestServer's client refuses %00 in a path before the service sees the request.
    /// </summary>
    private static string PathSegment(string text) =>
        string.Concat(Utf8OfUnits(text.Length > 60 ? text[..60] : text).Where(b => b != 0).Select(b => string.Create(CultureInfo.InvariantCulture, $"%{b:X2}")));

    private static string Describe(string[] texts) =>
        string.Join(", ", texts.Select(t => "\"" + MixedScriptText.Escape(t.Length > 120 ? t[..120] + "…" : t) + "\""));
}
