using System.Text.Json.Nodes;
using NeuralSparse.Cli.Evaluation;
using NeuralSparse.Client;
using NeuralSparse.Client.Queries;
using NeuralSparse.Client.Tests.InMemory;
using NeuralSparse.Client.Transport;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Cli.Tests;

/// <summary>
/// The offline mode's one-pass ranking against two independent references: brute-force scoring of every document,
/// and the in-memory cluster executing the very requests the SDK's client-side rewrite (and the server processor)
/// would send.
/// </summary>
public sealed class OfflineRankingTests
{
    private const int Size = 10;

    private static readonly IReadOnlyList<EvalSetting> Settings = EvalSetting.Sweep([0.3f, 0.6f, 0.9f], [1f, 1.5f, 3f], SparsePruneType.MaxRatio);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void OnePass_EqualsBruteForce_ForEverySetting(int seed)
    {
        (var documents, var queries) = RandomSparseData.Generate(seed, documents: 400, queries: 25);
        var ranker = new StreamingRanker(queries, Settings, Size);
        foreach ((string id, IReadOnlyDictionary<string, float> vector) in documents)
        {
            ranker.Add(id, vector);
        }

        foreach (OfflineSettingRun result in ranker.Results())
        {
            foreach (QueryVector query in queries)
            {
                ScoredDocument[] expected = BruteForce(documents, query, result.Setting.TwoPhase);
                Assert.True(expected.SequenceEqual(result.Runs[query.Id]),
                    $"seed {seed}, setting {result.Setting.Label}, query {query.Id} {Format(query.Tokens)}:\nexpected {string.Join(", ", expected)}\nactual   {string.Join(", ", result.Runs[query.Id])}");
            }
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Simulation_EqualsTheInMemoryCluster_RunningTheClientSideRewrite_AndTheProcessor(int seed)
    {
        (var documents, var queries) = RandomSparseData.Generate(seed, documents: 300, queries: 15);
        var cluster = new InMemoryOpenSearch();
        cluster.Index("docs", "passage_embedding", documents); // index order = corpus order, the simulation's tie order
        var client = new NeuralSparseSearchClient(cluster);
        var ranker = new StreamingRanker(queries, Settings, Size);
        foreach ((string id, IReadOnlyDictionary<string, float> vector) in documents)
        {
            ranker.Add(id, vector);
        }

        foreach (OfflineSettingRun result in ranker.Results())
        {
            if (result.Setting.TwoPhase is { } parameters)
            {
                await client.SendAsync(new OpenSearchRequest(HttpMethod.Put, "/_search/pipeline/two-phase", parameters.ToSearchPipeline()));
            }

            foreach (QueryVector query in queries)
            {
                var plain = new SearchRequest(new NeuralSparseQuery("passage_embedding") { QueryTokens = query.Tokens }) { Size = Size, SearchPipeline = "_none" };
                SearchRequest clientSide = result.Setting.TwoPhase is { } p ? ClientSideTwoPhase.Apply(plain, p) : plain;
                SearchRequest serverSide = plain with { SearchPipeline = result.Setting.TwoPhase is null ? "_none" : "two-phase" };
                foreach ((string how, SearchRequest request) in new[] { ("client-side rewrite", clientSide), ("processor", serverSide) })
                {
                    ScoredDocument[] hits = await SearchAsync(client, request);
                    Assert.True(hits.SequenceEqual(result.Runs[query.Id]),
                        $"seed {seed}, {how}, setting {result.Setting.Label}, query {query.Id} {Format(query.Tokens)}:\ncluster    {string.Join(", ", hits)}\nsimulation {string.Join(", ", result.Runs[query.Id])}");
                }
            }
        }
    }

    [Fact]
    public void TwoPhase_ChangesTheRanking_WhenTheWindowMissesDocuments()
    {
        // neural-search's NeuralSparseTwoPhaseProcessorIT: 10 documents of type A {1:1..5:5, 11:1..15:5} and 10 of
        // type B {5:5, 6:6}; query {11..15: 1..5, 1..7: 1..7}. One phase: A scores 110. prune_ratio 0.7 keeps
        // {5, 6, 7, 15} in phase one (A 50, B 61); a window of 1 rescores one B: the top is 61 + 0 = 61.
        var a = Enumerable.Range(1, 5).SelectMany(i => new[] { KeyValuePair.Create($"{i}", (float)i), KeyValuePair.Create($"{10 + i}", (float)i) }).ToDictionary();
        var b = new Dictionary<string, float> { ["5"] = 5, ["6"] = 6 };
        var query = new QueryVector("q", Enumerable.Range(1, 5).Select(i => KeyValuePair.Create($"{10 + i}", (float)i))
            .Concat(Enumerable.Range(1, 7).Select(i => KeyValuePair.Create($"{i}", (float)i))).ToDictionary());
        EvalSetting[] settings =
        [
            EvalSetting.Off,
            new("0.3 × 0.1", TwoPhaseParameters.Default with { PruneRatio = 0.3f, ExpansionRate = 1f }),
            new("0.7 × 1", TwoPhaseParameters.Default with { PruneRatio = 0.7f, ExpansionRate = 1f }),
            new("0.7 × 30", TwoPhaseParameters.Default with { PruneRatio = 0.7f, ExpansionRate = 30f }),
        ];
        var ranker = new StreamingRanker([query], settings, size: 1);
        for (int i = 0; i < 10; i++)
        {
            ranker.Add($"a{i}", a);
            ranker.Add($"b{i}", b);
        }

        Assert.Equal([110f, 110f, 61f, 110f], ranker.Results().Select(r => (float)r.Runs["q"][0].Score));
    }

    [Fact]
    public void Memory_DoesNotGrowWithTheCorpus()
    {
        // 60,000 generated documents streamed through; nothing may keep them: the retained candidates stay under the
        // heaps' bound, and the managed heap after the last document is within 2 MB of the heap after the first 6,000
        // (holding the vectors would take over 40 MB).
        (_, var queries) = RandomSparseData.Generate(seed: 9, documents: 0, queries: 40, vocabulary: 60);
        var ranker = new StreamingRanker(queries, Settings, Size);
        var random = new Random(9);
        var tokens = new int[12];
        var weights = new float[12];
        long early = 0;
        for (int i = 0; i < 60_000; i++)
        {
            int count = random.Next(1, tokens.Length + 1);
            for (int t = 0; t < count; t++)
            {
                tokens[t] = random.Next(ranker.Vocabulary.Count);
                weights[t] = (float)random.NextDouble() + 0.01f;
            }

            ranker.Add($"doc-{i}", tokens.AsSpan(0, count), weights.AsSpan(0, count));
            if (i == 6_000)
            {
                early = GC.GetTotalMemory(forceFullCollection: true);
            }
        }

        long late = GC.GetTotalMemory(forceFullCollection: true);
        Assert.InRange(ranker.RetainedCandidates, 1, ranker.CandidateBound);
        Assert.True(late - early < 2_000_000, $"the heap grew by {late - early:N0} bytes over 54,000 documents");
        Assert.Equal(60_000, ranker.Documents);
    }

    /// <summary>Scores every document, sorts, and applies the window rule, with nothing shared with the ranker but the prune rule.</summary>
    private static ScoredDocument[] BruteForce(List<(string Id, IReadOnlyDictionary<string, float> Vector)> documents, QueryVector query, TwoPhaseParameters? twoPhase)
    {
        IReadOnlyDictionary<string, float> high = query.Tokens;
        IReadOnlyDictionary<string, float> low = new Dictionary<string, float>();
        int? window = null;
        if (twoPhase is { PruneRatio: > 0 })
        {
            (high, low) = ClientSideTwoPhase.Split(query.Tokens, new SparsePruneRule(twoPhase.PruneType, twoPhase.PruneRatio));
            window = low.Count > 0 ? (int)(Size * twoPhase.ExpansionRate) : null;
        }

        float? Score(IReadOnlyDictionary<string, float> tokens, IReadOnlyDictionary<string, float> vector)
        {
            double sum = 0;
            bool matched = false;
            foreach ((string token, float weight) in tokens)
            {
                if (vector.TryGetValue(token, out float w))
                {
                    sum += weight * FeatureFieldEncoding.Round(w);
                    matched = true;
                }
            }

            return matched ? (float)sum : null;
        }

        var phaseOne = documents.Select((d, ordinal) => (d.Id, Ordinal: ordinal, Score: Score(high, d.Vector), Second: Score(low, d.Vector)))
            .Where(d => d.Score is not null)
            .OrderByDescending(d => d.Score).ThenBy(d => d.Ordinal).ToList();
        int rescored = Math.Min(window ?? 0, phaseOne.Count);
        return [.. phaseOne.Take(rescored)
            .Select(d => (d.Id, d.Ordinal, Score: d.Second is { } s ? d.Score!.Value + s : d.Score!.Value))
            .OrderByDescending(d => d.Score).ThenBy(d => d.Ordinal)
            .Concat(phaseOne.Skip(rescored).Select(d => (d.Id, d.Ordinal, Score: d.Score!.Value)))
            .Take(Size)
            .Select(d => new ScoredDocument(d.Id, d.Score))];
    }

    private static async Task<ScoredDocument[]> SearchAsync(NeuralSparseSearchClient client, SearchRequest request)
    {
        JsonObject body = request.ToJson();
        body["_source"] = false;
        JsonNode response = await client.SendAsync(new OpenSearchRequest(HttpMethod.Post, request.Path("docs"), body));
        return [.. response["hits"]!["hits"]!.AsArray().Select(h => new ScoredDocument(h!["_id"]!.GetValue<string>(), h["_score"]!.GetValue<float>()))];
    }

    private static string Format(IReadOnlyDictionary<string, float> tokens) => string.Join(" ", tokens.Select(t => $"{t.Key}:{t.Value:R}"));
}
