using System.Text;
using System.Text.Json;
using NeuralSparse.Cli.Hosting;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>Token strings numbered for scoring; lookups by span, so scanning a corpus allocates no token strings.</summary>
internal sealed class TokenVocabulary
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    public TokenVocabulary() => _bySpan = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _ids.Count;

    public int Add(string token)
    {
        if (!_ids.TryGetValue(token, out int id))
        {
            _ids[token] = id = _ids.Count;
        }

        return id;
    }

    public bool TryGet(ReadOnlySpan<char> token, out int id) => _bySpan.TryGetValue(token, out id);
}

/// <summary>
/// Encoded vectors as JSON lines: a header <c>{"model": …, "kind": "documents"|"queries"}</c>, then one
/// <c>{"_id": …, "vector": {token: weight}}</c> per text. Written once by encoding through the sidecar (or by the
/// corpus generator) and scanned as a stream, so a corpus never has to fit in memory.
/// </summary>
internal static class SparseVectorFile
{
    /// <summary>Lucene's lower bound for a feature value (Float.MIN_NORMAL).</summary>
    private const float SmallestNormal = 1.17549435E-38f;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string CorpusFileName => "corpus.vectors.jsonl";

    public static string QueriesFileName => "queries.vectors.jsonl";

    /// <summary>Writes vectors to a JSONL file, header first.</summary>
    internal sealed class Writer : IDisposable
    {
        private readonly Stream _stream;
        private readonly Utf8JsonWriter _json;

        public Writer(string path, string model, string kind)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            _json = new Utf8JsonWriter(_stream, WriterOptions);
            _json.WriteStartObject();
            _json.WriteString("model", model);
            _json.WriteString("kind", kind);
            EndLine();
        }

        public void Write(string id, IEnumerable<KeyValuePair<string, float>> vector)
        {
            _json.WriteStartObject();
            _json.WriteString("_id", id);
            _json.WriteStartObject("vector");
            foreach ((string token, float weight) in vector)
            {
                _json.WriteNumber(token, weight);
            }

            _json.WriteEndObject();
            EndLine();
        }

        public void Dispose()
        {
            _json.Dispose();
            _stream.Dispose();
        }

        private void EndLine()
        {
            _json.WriteEndObject();
            _json.Flush();
            _json.Reset();
            _stream.WriteByte((byte)'\n');
        }
    }

    /// <summary>The model named in a vectors file's header.</summary>
    public static string ReadModel(string path)
    {
        using var reader = new StreamReader(path);
        string? header = reader.ReadLine();
        try
        {
            return header is not null && JsonDocument.Parse(header).RootElement.TryGetProperty("model", out JsonElement model) && model.GetString() is { } name
                ? name
                : throw new CliException($"{path}: the first line must be the header {{\"model\": …}}.");
        }
        catch (JsonException ex)
        {
            throw new CliException($"{path}: the first line must be the header {{\"model\": …}} ({ex.Message}).", ex);
        }
    }

    /// <summary>Every vector of a (small) file, e.g. the queries.</summary>
    public static List<(string Id, Dictionary<string, float> Vector)> ReadAll(string path)
    {
        var all = new List<(string, Dictionary<string, float>)>();
        var vocabulary = new AllTokens();
        Scan(path, vocabulary.Resolve, (id, tokens, weights) =>
        {
            var vector = new Dictionary<string, float>(tokens.Length, StringComparer.Ordinal);
            for (int i = 0; i < tokens.Length; i++)
            {
                vector[vocabulary[tokens[i]]] = weights[i];
            }

            all.Add((id, vector));
        });
        return all;
    }

    /// <summary>Receives one document: its id and the resolved token ids with their weights (buffers reused per call).</summary>
    public delegate void DocumentSink(string id, ReadOnlySpan<int> tokens, ReadOnlySpan<float> weights);

    /// <summary>Resolves a token to an id, or returns false to skip it (a token no query has cannot score).</summary>
    public delegate bool TokenResolver(ReadOnlySpan<char> token, out int id);

    /// <summary>
    /// Streams the file's vectors into <paramref name="sink"/> in file order, parsing UTF-8 lines in place: memory is
    /// one read buffer and the per-document token buffers, whatever the file's size.
    /// </summary>
    public static long Scan(string path, TokenResolver resolve, DocumentSink sink)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var state = new LineState(path, resolve, sink);
        foreach (JsonLine line in JsonLines.Read(stream))
        {
            state.Line(line.Bytes.Span, line.Number);
        }

        return state.Documents;
    }

    private sealed class LineState(string path, TokenResolver resolve, DocumentSink sink)
    {
        private int[] _tokens = new int[256];
        private float[] _weights = new float[256];
        private char[] _name = new char[256];
        private long _line;

        public long Documents { get; private set; }

        public void Line(ReadOnlySpan<byte> line, long number)
        {
            _line = number;
            if (line.Trim(" \t\r"u8).IsEmpty)
            {
                return;
            }

            try
            {
                Parse(line);
            }
            catch (JsonException ex)
            {
                throw new CliException($"{path}:{_line}: not a vectors line ({ex.Message}).", ex);
            }
        }

        private void Parse(ReadOnlySpan<byte> line)
        {
            var reader = new Utf8JsonReader(line);
            Expect(ref reader, JsonTokenType.StartObject);
            string? id = null;
            int count = 0;
            bool header = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("_id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : Encoding.UTF8.GetString(reader.ValueSpan);
                }
                else if (reader.ValueTextEquals("vector"u8))
                {
                    Expect(ref reader, JsonTokenType.StartObject);
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (_name.Length < reader.ValueSpan.Length)
                        {
                            _name = new char[reader.ValueSpan.Length * 2];
                        }

                        int length = reader.CopyString(_name);
                        reader.Read();
                        if (!resolve(_name.AsSpan(0, length), out int token))
                        {
                            continue;
                        }

                        float weight = reader.GetSingle();
                        if (!float.IsFinite(weight) || weight < SmallestNormal)
                        {
                            throw new CliException($"{path}:{_line}: weight {weight} of '{new string(_name, 0, length)}' is not a positive normal float; OpenSearch would refuse the document.");
                        }

                        if (count == _tokens.Length)
                        {
                            Array.Resize(ref _tokens, count * 2);
                            Array.Resize(ref _weights, count * 2);
                        }

                        _tokens[count] = token;
                        _weights[count++] = weight;
                    }
                }
                else
                {
                    header |= reader.ValueTextEquals("model"u8);
                    reader.Read();
                    reader.Skip();
                }
            }

            if (header && id is null)
            {
                return;
            }

            sink(id ?? throw new CliException($"{path}:{_line}: no '_id'."), _tokens.AsSpan(0, count), _weights.AsSpan(0, count));
            Documents++;
        }

        private void Expect(ref Utf8JsonReader reader, JsonTokenType type)
        {
            if (!reader.Read() || reader.TokenType != type)
            {
                throw new CliException($"{path}:{_line}: expected {type}.");
            }
        }
    }

    /// <summary>A vocabulary that takes every token (for reading small files whole).</summary>
    private sealed class AllTokens
    {
        private readonly TokenVocabulary _vocabulary = new();
        private readonly List<string> _names = [];

        public string this[int id] => _names[id];

        public bool Resolve(ReadOnlySpan<char> token, out int id)
        {
            if (!_vocabulary.TryGet(token, out id))
            {
                id = _vocabulary.Add(token.ToString());
                _names.Add(token.ToString());
            }

            return true;
        }
    }
}
