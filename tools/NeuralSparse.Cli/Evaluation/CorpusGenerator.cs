using System.Globalization;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>
/// A seeded synthetic BEIR set with pre-encoded vectors, for the offline mode's speed and memory at scale (no text,
/// no sidecar): documents draw 30–150 tokens from a Zipf distribution over the vocabulary (posting lists as skewed
/// as real text's), weights log-normal in (0, 3]; each query has 4–16 tokens with idf-like weights and 1–5 judged
/// documents (relevance 1 or 2) that are planted to contain its tokens, so relevance figures move with the settings.
/// Written as a stream: memory stays small for any corpus size.
/// </summary>
internal static class CorpusGenerator
{
    public const string Model = "synthetic";

    public static long Write(string directory, int documents, int queries, int vocabulary, int seed, Action<long> progress)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(documents, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 200);
        ArgumentNullException.ThrowIfNull(progress);
        var random = new Random(seed);
        double[] cumulative = new double[vocabulary];
        double total = 0;
        for (int rank = 0; rank < vocabulary; rank++)
        {
            cumulative[rank] = total += 1.0 / (rank + 1);
        }

        int Zipf()
        {
            int index = Array.BinarySearch(cumulative, random.NextDouble() * total);
            return Math.Min(index < 0 ? ~index : index, vocabulary - 1);
        }

        static string Token(int rank) => "t" + rank.ToString(CultureInfo.InvariantCulture);

        // Queries favour mid-frequency tokens (rank ≥ 50), as real queries skip stop words.
        var queryTokens = new List<Dictionary<string, float>>();
        var planted = new Dictionary<int, List<(int Query, int Relevance)>>();
        Directory.CreateDirectory(Path.Combine(directory, "qrels"));
        using (var qrels = new StreamWriter(Path.Combine(directory, "qrels", "test.tsv")))
        using (var texts = new StreamWriter(Path.Combine(directory, "queries.jsonl")))
        {
            qrels.WriteLine("query-id\tcorpus-id\tscore");
            for (int q = 0; q < queries; q++)
            {
                var tokens = new Dictionary<string, float>(StringComparer.Ordinal);
                int count = random.Next(4, 17);
                while (tokens.Count < count)
                {
                    tokens[Token(50 + (Zipf() % (vocabulary - 50)))] = (float)(0.5 + (random.NextDouble() * 5.5));
                }

                queryTokens.Add(tokens);
                texts.WriteLine($$"""{"_id":"q{{q}}","text":"synthetic query {{q}}"}""");
                int judged = random.Next(1, 6);
                for (int j = 0; j < judged; j++)
                {
                    int document = random.Next(documents);
                    int relevance = random.Next(1, 3);
                    if (!planted.TryGetValue(document, out List<(int, int)>? list))
                    {
                        planted[document] = list = [];
                    }

                    if (list.TrueForAll(p => p.Item1 != q))
                    {
                        list.Add((q, relevance));
                        qrels.WriteLine($"q{q}\td{document}\t{relevance}");
                    }
                }
            }
        }

        using (var writer = new SparseVectorFile.Writer(Path.Combine(directory, SparseVectorFile.QueriesFileName), Model, "queries"))
        {
            for (int q = 0; q < queries; q++)
            {
                writer.Write($"q{q}", queryTokens[q]);
            }
        }

        using (var writer = new SparseVectorFile.Writer(Path.Combine(directory, SparseVectorFile.CorpusFileName), Model, "documents"))
        {
            var vector = new Dictionary<string, float>(StringComparer.Ordinal);
            for (int d = 0; d < documents; d++)
            {
                vector.Clear();
                int length = random.Next(30, 151);
                while (vector.Count < length)
                {
                    vector[Token(Zipf())] = Weight();
                }

                foreach ((int query, int relevance) in planted.GetValueOrDefault(d) ?? [])
                {
                    // Relevance 2 holds every query token strongly; relevance 1 about half of them, weaker.
                    foreach (string token in queryTokens[query].Keys.Where(_ => relevance == 2 || random.Next(2) == 0))
                    {
                        vector[token] = Math.Min(3f, Weight() + (relevance * 0.75f));
                    }
                }

                writer.Write($"d{d}", vector);
                if ((d + 1) % 10_000 == 0)
                {
                    progress(d + 1);
                }
            }
        }

        return documents;

        float Weight() => (float)Math.Clamp(Math.Exp((random.NextDouble() * 2.5) - 2.5), 0.01, 3.0);
    }
}
