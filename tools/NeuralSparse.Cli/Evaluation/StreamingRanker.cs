using NeuralSparse.Client.Queries;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>A query with its encoded tokens (and its text, when the cluster encodes it: query_text mode).</summary>
internal sealed record QueryVector(string Id, IReadOnlyDictionary<string, float> Tokens, string? Text = null);

/// <summary>What one setting returned for every query, and what it cost under a simple work model.</summary>
internal sealed record OfflineSettingRun(EvalSetting Setting, IReadOnlyDictionary<string, IReadOnlyList<ScoredDocument>> Runs, double MeanPostingsScored);

/// <summary>
/// Exact offline retrieval for many queries and settings in ONE pass over a corpus, in bounded memory.
/// <para>
/// Scores are what OpenSearch computes on a <c>rank_features</c> field: Σ w_q(t) · FeatureField(w_d(t)) over the
/// shared tokens, each product in float, the sum in double rounded to float (Lucene's disjunction sum). Ties rank the
/// earlier document first (Lucene's doc id order; the corpus order here).
/// </para>
/// <para>
/// Two-phase is simulated exactly as the cluster runs the request that <see cref="ClientSideTwoPhase"/> builds (the
/// processor's rewrite): phase one ranks by the high tokens and only documents that contain one are candidates; the
/// top <c>window</c> of them add the low tokens' score (rescore, score_mode total); the rest keep their phase-one
/// score. One shard: a cluster with S shards rescores a window on each.
/// </para>
/// <para>
/// Memory: per (query, prune split) a heap of the best <c>max(size, largest window)</c> candidates (id and two
/// floats), the query-side postings, and per-token document counts: nothing grows with the corpus, so a
/// 1M-document corpus needs the same memory as a 1k one.
/// </para>
/// </summary>
internal sealed class StreamingRanker
{
    private readonly IReadOnlyList<QueryVector> _queries;
    private readonly int _size;
    private readonly SettingPlan[] _settings;
    private readonly (int Split, float Weight, bool Low)[][] _postings; // token id → the splits it scores in
    private readonly CandidateHeap[] _heaps; // per split
    private readonly double[] _high;
    private readonly double[] _low;
    private readonly byte[] _matched; // 1 = a high token matched, 2 = a low token matched
    private readonly long[] _candidates; // documents that matched phase one, per split
    private readonly List<int> _touched = [];
    private readonly long[] _documentFrequency;
    private long _ordinal;

    public StreamingRanker(IReadOnlyList<QueryVector> queries, IReadOnlyList<EvalSetting> settings, int size, string field = "passage_embedding")
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _queries = queries;
        _size = size;

        // Each setting's split and window come from the SDK's own rewrite of the request, so the simulation runs
        // exactly what a cluster is asked; settings with the same prune rule share one split (and one scan slot).
        var splits = new Dictionary<(int Query, string Rule), int>();
        var splitTokens = new List<(int Query, IReadOnlyDictionary<string, float> High, IReadOnlyDictionary<string, float> Low)>();
        var capacity = new List<int>();
        var plans = new List<SettingPlan>();
        foreach (EvalSetting setting in settings)
        {
            var perQuery = new QueryPlan[queries.Count];
            for (int q = 0; q < queries.Count; q++)
            {
                (IReadOnlyDictionary<string, float> high, IReadOnlyDictionary<string, float> low, int? window) = Plan(queries[q], setting.TwoPhase, field, size);
                string rule = window is null ? "one-phase" : $"{setting.TwoPhase!.PruneType}:{setting.TwoPhase.PruneRatio:R}";
                if (!splits.TryGetValue((q, rule), out int split))
                {
                    splits[(q, rule)] = split = splitTokens.Count;
                    splitTokens.Add((q, high, low));
                    capacity.Add(size);
                }

                capacity[split] = Math.Max(capacity[split], window ?? size);
                perQuery[q] = new QueryPlan(split, window, [.. high.Keys], low.Count);
            }

            plans.Add(new SettingPlan(setting, perQuery));
        }

        _settings = [.. plans];

        Vocabulary = new TokenVocabulary();
        var postings = new List<List<(int, float, bool)>>();
        for (int split = 0; split < splitTokens.Count; split++)
        {
            foreach ((IReadOnlyDictionary<string, float> tokens, bool low) in new[] { (splitTokens[split].High, false), (splitTokens[split].Low, true) })
            {
                foreach ((string token, float weight) in tokens)
                {
                    int id = Vocabulary.Add(token);
                    if (id == postings.Count)
                    {
                        postings.Add([]);
                    }

                    postings[id].Add((split, weight, low));
                }
            }
        }

        _postings = [.. postings.Select(p => p.ToArray())];
        _heaps = [.. capacity.Select(c => new CandidateHeap(c))];
        _high = new double[splitTokens.Count];
        _low = new double[splitTokens.Count];
        _matched = new byte[splitTokens.Count];
        _candidates = new long[splitTokens.Count];
        _documentFrequency = new long[Vocabulary.Count];
    }

    /// <summary>Every token any query has; a document token outside it cannot score and is skipped.</summary>
    public TokenVocabulary Vocabulary { get; }

    /// <summary>Documents scored so far.</summary>
    public long Documents => _ordinal;

    /// <summary>Candidates held in all heaps: bounded by splits × capacity, not by the corpus.</summary>
    public int RetainedCandidates => _heaps.Sum(h => h.Count);

    /// <summary>The most candidates the heaps can ever hold.</summary>
    public int CandidateBound => _heaps.Sum(h => h.Capacity);

    /// <summary>Scores one document given as vocabulary token ids (unknown tokens already left out) and weights.</summary>
    public void Add(string id, ReadOnlySpan<int> tokens, ReadOnlySpan<float> weights)
    {
        long ordinal = _ordinal++;
        for (int i = 0; i < tokens.Length; i++)
        {
            int token = tokens[i];
            _documentFrequency[token]++;
            float stored = FeatureFieldEncoding.Round(weights[i]);
            foreach ((int split, float queryWeight, bool low) in _postings[token])
            {
                if (_matched[split] == 0)
                {
                    _touched.Add(split);
                }

                float product = queryWeight * stored;
                if (low)
                {
                    _low[split] += product;
                    _matched[split] |= 2;
                }
                else
                {
                    _high[split] += product;
                    _matched[split] |= 1;
                }
            }
        }

        foreach (int split in _touched)
        {
            if ((_matched[split] & 1) != 0)
            {
                _candidates[split]++;
                _heaps[split].Offer(new Candidate(id, ordinal, (float)_high[split], (_matched[split] & 2) != 0 ? (float)_low[split] : null));
            }

            _high[split] = 0;
            _low[split] = 0;
            _matched[split] = 0;
        }

        _touched.Clear();
    }

    /// <summary>Scores one document given as a token → weight map (tests, small inputs).</summary>
    public void Add(string id, IReadOnlyDictionary<string, float> vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        var tokens = new List<int>();
        var weights = new List<float>();
        foreach ((string token, float weight) in vector)
        {
            if (Vocabulary.TryGet(token, out int t))
            {
                tokens.Add(t);
                weights.Add(weight);
            }
        }

        Add(id, tokens.ToArray(), weights.ToArray());
    }

    /// <summary>The ranking of every setting for every query, best first, at most <c>size</c> hits.</summary>
    public IReadOnlyList<OfflineSettingRun> Results()
    {
        var sorted = _heaps.Select(h => h.SortedBestFirst()).ToArray();
        var results = new List<OfflineSettingRun>();
        foreach (SettingPlan setting in _settings)
        {
            var runs = new Dictionary<string, IReadOnlyList<ScoredDocument>>(StringComparer.Ordinal);
            double postings = 0;
            for (int q = 0; q < _queries.Count; q++)
            {
                QueryPlan plan = setting.Queries[q];
                Candidate[] phaseOne = sorted[plan.Split];
                IEnumerable<(Candidate Candidate, float Score)> ranked;
                long highPostings = plan.HighTokens.Sum(t => _documentFrequency[Vocabulary.TryGet(t, out int id) ? id : throw new InvalidOperationException()]);
                if (plan.Window is { } window)
                {
                    int rescored = Math.Min(window, phaseOne.Length);
                    var top = phaseOne.Take(rescored)
                        .Select(c => (Candidate: c, Score: c.Low is { } low ? c.High + low : c.High))
                        .OrderByDescending(c => c.Score).ThenBy(c => c.Candidate.Ordinal);
                    ranked = top.Concat(phaseOne.Skip(rescored).Select(c => (c, c.High)));
                    postings += highPostings + ((double)Math.Min(window, _candidates[plan.Split]) * plan.LowTokenCount);
                }
                else
                {
                    ranked = phaseOne.Select(c => (c, c.High));
                    postings += highPostings;
                }

                runs[_queries[q].Id] = [.. ranked.Take(_size).Select(r => new ScoredDocument(r.Candidate.Id, r.Score))];
            }

            results.Add(new OfflineSettingRun(setting.Setting, runs, _queries.Count == 0 ? 0 : postings / _queries.Count));
        }

        return results;
    }

    /// <summary>(high tokens, low tokens, rescore window or null for one phase) of the request the SDK would send.</summary>
    private static (IReadOnlyDictionary<string, float> High, IReadOnlyDictionary<string, float> Low, int? Window) Plan(
        QueryVector query, TwoPhaseParameters? parameters, string field, int size)
    {
        var request = new SearchRequest(new NeuralSparseQuery(field) { QueryTokens = query.Tokens }) { Size = size };
        SearchRequest rewritten = parameters is null ? request : ClientSideTwoPhase.Apply(request, parameters);
        if (ReferenceEquals(rewritten, request))
        {
            return (query.Tokens, new Dictionary<string, float>(), null);
        }

        var high = ((NeuralSparseQuery)rewritten.Query).QueryTokens!;
        Rescore rescore = rewritten.Rescores[^1];
        var low = ((BoolQuery)rescore.RescoreQuery).Should.Cast<NeuralSparseQuery>().SelectMany(q => q.QueryTokens!)
            .ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        return (high, low, rescore.WindowSize);
    }

    private sealed record SettingPlan(EvalSetting Setting, QueryPlan[] Queries);

    private sealed record QueryPlan(int Split, int? Window, string[] HighTokens, int LowTokenCount);

    private sealed record Candidate(string Id, long Ordinal, float High, float? Low);

    /// <summary>The best <see cref="Capacity"/> candidates by phase-one score; on equal scores the earlier document wins.</summary>
    private sealed class CandidateHeap(int capacity)
    {
        private static readonly Comparer<Candidate> WorstFirst = Comparer<Candidate>.Create(static (a, b) =>
            a.High != b.High ? a.High.CompareTo(b.High) : b.Ordinal.CompareTo(a.Ordinal));

        private readonly PriorityQueue<Candidate, Candidate> _queue = new(WorstFirst);

        public int Capacity { get; } = capacity;

        public int Count => _queue.Count;

        public void Offer(Candidate candidate)
        {
            if (_queue.Count < Capacity)
            {
                _queue.Enqueue(candidate, candidate);
            }
            else if (WorstFirst.Compare(candidate, _queue.Peek()) > 0)
            {
                _queue.EnqueueDequeue(candidate, candidate);
            }
        }

        public Candidate[] SortedBestFirst() =>
            [.. _queue.UnorderedItems.Select(i => i.Element).OrderByDescending(c => c.High).ThenBy(c => c.Ordinal)];
    }
}
