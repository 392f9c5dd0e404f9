using NeuralSparse.Client.Ingest;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>
/// The encoded queries and corpus of an evaluation, kept as vectors files in a folder (<c>--vectors</c>): read when
/// present, otherwise encoded through the sidecar once and written (to a temporary name first, so an interrupted
/// encoding never leaves a truncated file that a later run would take for the corpus).
/// </summary>
internal sealed class VectorCache(string directory, string? model, Func<ISparseDocumentEncoder> documents, Func<ISparseQueryEncoder> queries)
{
    public string QueriesPath => Path.Combine(directory, SparseVectorFile.QueriesFileName);

    public string CorpusPath => Path.Combine(directory, SparseVectorFile.CorpusFileName);

    /// <summary>How the vectors were obtained, for the report.</summary>
    public List<string> Sources { get; } = [];

    /// <summary>The model the vectors came from (the header of a cached file, or --model).</summary>
    public string? Model { get; private set; } = model;

    private readonly string? _requestedModel = model;

    public async Task<List<QueryVector>> QueriesAsync(IReadOnlyList<TextRecord> texts, CancellationToken cancellationToken)
    {
        if (File.Exists(QueriesPath))
        {
            CheckModel(QueriesPath);
            Dictionary<string, Dictionary<string, float>> cached = SparseVectorFile.ReadAll(QueriesPath).ToDictionary(v => v.Id, v => v.Vector, StringComparer.Ordinal);
            Sources.Add($"queries from {QueriesPath}");
            return [.. texts.Select(t => new QueryVector(t.Id, cached.TryGetValue(t.Id, out Dictionary<string, float>? vector)
                ? vector
                : throw new CliException($"{QueriesPath} has no vector for query '{t.Id}'; delete it to encode the queries again.")))];
        }

        ISparseQueryEncoder encoder = queries();
        var encoded = new List<QueryVector>(texts.Count);
        foreach (TextRecord[] chunk in texts.Chunk(16))
        {
            IReadOnlyDictionary<string, float>[] vectors = await Task.WhenAll(chunk.Select(t => encoder.EncodeQueryAsync(t.Text, cancellationToken)));
            encoded.AddRange(chunk.Select((t, i) => new QueryVector(t.Id, vectors[i])));
        }

        Write(QueriesPath, "queries", encoded.Select(q => (q.Id, (IEnumerable<KeyValuePair<string, float>>)q.Tokens)));
        Sources.Add($"queries encoded by the sidecar into {QueriesPath}");
        return encoded;
    }

    /// <summary>The corpus vectors file, encoding <paramref name="corpus"/> first when it is missing.</summary>
    public async Task<string> CorpusAsync(string corpus, Action<long> progress, CancellationToken cancellationToken)
    {
        if (File.Exists(CorpusPath))
        {
            CheckModel(CorpusPath);
            Sources.Add($"corpus from {CorpusPath}");
            return CorpusPath;
        }

        ISparseDocumentEncoder encoder = documents();
        string temporary = CorpusPath + ".partial";
        long count = 0;
        using (var writer = new SparseVectorFile.Writer(temporary, Model ?? "unknown", "documents"))
        {
            foreach (TextRecord[] batch in BeirDataset.ReadTexts(corpus).Chunk(32))
            {
                IReadOnlyList<IReadOnlyDictionary<string, float>> vectors = await encoder.EncodeDocumentsAsync([.. batch.Select(d => d.Text)], cancellationToken);
                for (int i = 0; i < batch.Length; i++)
                {
                    writer.Write(batch[i].Id, vectors[i]);
                }

                progress(count += batch.Length);
            }
        }

        File.Move(temporary, CorpusPath, overwrite: true);
        Sources.Add($"corpus encoded by the sidecar into {CorpusPath}");
        return CorpusPath;
    }

    private void Write(string path, string kind, IEnumerable<(string Id, IEnumerable<KeyValuePair<string, float>> Vector)> vectors)
    {
        string temporary = path + ".partial";
        using (var writer = new SparseVectorFile.Writer(temporary, Model ?? "unknown", kind))
        {
            foreach ((string id, IEnumerable<KeyValuePair<string, float>> vector) in vectors)
            {
                writer.Write(id, vector);
            }
        }

        File.Move(temporary, path, overwrite: true);
    }

    private void CheckModel(string path)
    {
        string encodedWith = SparseVectorFile.ReadModel(path);
        if (_requestedModel is not null && encodedWith != _requestedModel)
        {
            throw new CliException($"{path} was encoded with model '{encodedWith}', not '{_requestedModel}'; delete it or point --vectors at another folder.");
        }

        Model ??= encodedWith;
    }
}
