using System.Globalization;
using System.Text.Json;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>A text to evaluate with: a query or a corpus document.</summary>
internal readonly record struct TextRecord(string Id, string Text);

/// <summary>
/// A BEIR-format data set: <c>corpus.jsonl</c> (<c>_id</c>, <c>title</c>, <c>text</c>), <c>queries.jsonl</c>
/// (<c>_id</c>, <c>text</c>) and <c>qrels/&lt;split&gt;.tsv</c> (query-id, corpus-id, score, with a header line).
/// The queries evaluated are those the split judges; the corpus is streamed, never held.
/// </summary>
internal sealed class BeirDataset
{
    private BeirDataset(string directory, IReadOnlyList<TextRecord> queries, IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> judgements, int unknownQueries)
    {
        Directory = directory;
        Queries = queries;
        Judgements = judgements;
        UnknownQueries = unknownQueries;
    }

    public string Directory { get; }

    public string CorpusPath => Path.Combine(Directory, "corpus.jsonl");

    /// <summary>The judged queries, in queries.jsonl order.</summary>
    public IReadOnlyList<TextRecord> Queries { get; }

    /// <summary>Query id → (document id → relevance), for the judged queries.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Judgements { get; }

    /// <summary>Queries the qrels judge that queries.jsonl lacks (left out, and reported).</summary>
    public int UnknownQueries { get; }

    /// <summary>Reads the queries and the judgements of <paramref name="split"/>.</summary>
    /// <exception cref="CliException">A file is missing or malformed; the message names it and the line.</exception>
    public static BeirDataset Load(string directory, string split)
    {
        string qrelsPath = Path.Combine(directory, "qrels", split + ".tsv");
        string queriesPath = Path.Combine(directory, "queries.jsonl");
        foreach (string path in new[] { qrelsPath, queriesPath })
        {
            if (!File.Exists(path))
            {
                throw new CliException($"{path} does not exist; --data needs a BEIR folder (corpus.jsonl, queries.jsonl, qrels/{split}.tsv).");
            }
        }

        var judgements = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(qrelsPath))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            string[] fields = line.Split('\t');
            if (fields.Length != 3 || !int.TryParse(fields[2].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int relevance))
            {
                if (lineNumber == 1)
                {
                    continue; // the header: query-id  corpus-id  score
                }

                throw new CliException($"{qrelsPath}:{lineNumber}: expected 'query-id<TAB>corpus-id<TAB>integer score', got '{line}'.");
            }

            if (!judgements.TryGetValue(fields[0], out Dictionary<string, int>? perQuery))
            {
                judgements[fields[0]] = perQuery = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            if (!perQuery.TryAdd(fields[1], relevance))
            {
                throw new CliException($"{qrelsPath}:{lineNumber}: document '{fields[1]}' is judged twice for query '{fields[0]}'.");
            }
        }

        var queries = new List<TextRecord>();
        foreach (TextRecord query in ReadTexts(queriesPath))
        {
            if (judgements.ContainsKey(query.Id))
            {
                queries.Add(query);
            }
        }

        HashSet<string> known = [.. queries.Select(q => q.Id)];
        return new BeirDataset(
            directory,
            queries,
            judgements.Where(j => known.Contains(j.Key)).ToDictionary(j => j.Key, j => (IReadOnlyDictionary<string, int>)j.Value, StringComparer.Ordinal),
            judgements.Keys.Count(k => !known.Contains(k)));
    }

    /// <summary>
    /// Streams <c>_id</c> and text from a JSONL file: <c>title</c> and <c>text</c> joined by a space when both are
    /// present (BEIR's convention for encoding a document), the one present otherwise.
    /// </summary>
    public static IEnumerable<TextRecord> ReadTexts(string path, IReadOnlyList<string>? textFields = null, string idField = "_id")
    {
        if (!File.Exists(path))
        {
            throw new CliException($"{path} does not exist.");
        }

        IReadOnlyList<string> fields = textFields ?? ["title", "text"];
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            yield return ParseText(line, fields, idField, $"{path}:{lineNumber}");
        }
    }

    /// <summary>One JSON object → id and joined text; <paramref name="where"/> names the line in errors.</summary>
    public static TextRecord ParseText(string line, IReadOnlyList<string> textFields, string idField, string where)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(line);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new CliException($"{where}: not a JSON object ({ex.Message}).", ex);
        }

        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(idField, out JsonElement id) || id.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
        {
            throw new CliException($"{where}: needs a string '{idField}' field.");
        }

        IEnumerable<string> parts = textFields
            .Select(f => root.TryGetProperty(f, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null)
            .Where(p => !string.IsNullOrEmpty(p))!;
        return new TextRecord(id.ValueKind == JsonValueKind.String ? id.GetString()! : id.GetRawText(), string.Join(' ', parts));
    }
}
