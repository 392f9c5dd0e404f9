using NeuralSparse.Cli.Evaluation;

namespace NeuralSparse.Cli.Tests;

/// <summary>Seeded random sparse corpora and queries; weights come from a small set so ties happen.</summary>
internal static class RandomSparseData
{
    public static (List<(string Id, IReadOnlyDictionary<string, float> Vector)> Documents, List<QueryVector> Queries) Generate(int seed, int documents, int queries, int vocabulary = 40)
    {
        var random = new Random(seed);
        float[] weights = [0.05f, 0.3f, 0.3f, 0.7f, 1.1f, 1.6f, 2.25f, 3.1f, 4.7300377f, 6.696973f];
        string Token() => $"t{random.Next(vocabulary)}";
        Dictionary<string, float> Vector(int maxTokens)
        {
            var vector = new Dictionary<string, float>(StringComparer.Ordinal);
            int count = random.Next(1, maxTokens + 1);
            while (vector.Count < count)
            {
                vector[Token()] = random.Next(4) == 0 ? (float)(random.NextDouble() * 5) + 0.01f : weights[random.Next(weights.Length)];
            }

            return vector;
        }

        // Every 17th document repeats an earlier one, so equal scores (ties) are common.
        var docs = new List<(string, IReadOnlyDictionary<string, float>)>();
        for (int i = 0; i < documents; i++)
        {
            docs.Add(($"d{i:D5}", i % 17 == 16 ? docs[random.Next(docs.Count)].Item2 : Vector(12)));
        }

        return (docs, [.. Enumerable.Range(0, queries).Select(i => new QueryVector($"q{i}", Vector(8)))]);
    }
}
