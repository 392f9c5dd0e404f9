using System.Globalization;

namespace NeuralSparse.Bench;

internal sealed record BenchSettings(
    string BertData, string ModelCache, string[] Models, int[] Sequences, int[] Batches, int Threads, double MinSeconds, string? Output, string[] Parts, bool Spinning,
    int[] Concurrency, int? ServiceRequests)
{
    public static BenchSettings Parse(string[] args)
    {
        string root = NeuralSparse.Sidecar.IntegrationTests.SidecarProcess.RepositoryRoot;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        static int[] Ints(string text) => [.. text.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

        return new BenchSettings(
            values.GetValueOrDefault("bert-data") ?? Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "bert-base-uncased")),
            values.GetValueOrDefault("model-cache") ?? Path.Combine(root, "artifacts", "bench-models"),
            (values.GetValueOrDefault("models") ?? "doc-v2-mini,v2-distill,v1").Split(','),
            Ints(values.GetValueOrDefault("seq") ?? "128,256"),
            Ints(values.GetValueOrDefault("batch") ?? "1,8,32"),
            int.Parse(values.GetValueOrDefault("threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            double.Parse(values.GetValueOrDefault("min-seconds") ?? "3", CultureInfo.InvariantCulture),
            values.GetValueOrDefault("out"),
            (values.GetValueOrDefault("parts") ?? "peak,tokenizer,encoder,budget,service").Split(','),
            bool.Parse(values.GetValueOrDefault("spinning") ?? "true"),
            Ints(values.GetValueOrDefault("concurrency") ?? "1,8,64"),
            values.TryGetValue("service-requests", out string? requests) ? int.Parse(requests, CultureInfo.InvariantCulture) : null);
    }
}
