using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>Writes <c>eval-&lt;mode&gt;.md</c>, <c>.svg</c> and <c>.json</c>.</summary>
internal static class ReportWriter
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>Writes the three files; returns their paths.</summary>
    public static (string Markdown, string Chart, string Json) Write(EvalReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(directory);
        string name = $"eval-{report.Mode}";
        string markdown = Path.Combine(directory, name + ".md");
        string chart = Path.Combine(directory, name + ".svg");
        string json = Path.Combine(directory, name + ".json");
        File.WriteAllText(json, JsonSerializer.Serialize(report, EvalJson.Default.EvalReport));
        File.WriteAllText(chart, Chart(report).ToString());
        File.WriteAllText(markdown, Markdown(report, Path.GetFileName(chart)));
        return (markdown, chart, json);
    }

    /// <summary>The x value of a setting: cluster p50 latency (took), or the offline work model.</summary>
    public static (double? Value, string Title) XAxis(EvalReport report, SettingResult setting) => report.Mode == "cluster"
        ? (setting.Took?.P50, "latency p50 (ms, the cluster's took)")
        : (setting.MeanPostingsScored, "postings scored per query (work model, no dynamic pruning)");

    public static string Markdown(EvalReport report, string chartFile)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        IFormatProvider c = CultureInfo.InvariantCulture;
        text.Append(c, $"# Neural sparse evaluation ({report.Mode})\n\n");
        text.Append(c, $"- Data: `{report.Data}`, split `{report.Split}`, {report.Queries} judged queries, top {report.Size} retrieved per query.\n");
        if (report.Mode == "cluster")
        {
            text.Append(c, $"- Index `{report.Index}`; two-phase via {report.TwoPhaseVia}; {report.Warmup} warm-up queries per setting, then {report.Repeats} timed pass(es) over every query, settings interleaved.\n");
        }
        else
        {
            text.Append(c, $"- {report.Documents:N0} documents scored exactly in process ({report.DocumentsPerSecond:N0} documents/s); stored weights rounded as Lucene's FeatureField stores them; one shard.\n");
        }

        text.Append(c, $"- Model `{report.Model ?? "(from the vectors file)"}`; vectors: {report.Vectors}.\n\n");
        bool cluster = report.Mode == "cluster";
        text.Append(cluster
            ? "| setting | prune_ratio | expansion_rate | window | NDCG@10 | Recall@100 | MRR@10 | top-10 overlap with off | took p50 / p90 / p99 ms | client p50 / p90 / p99 ms |\n|---|---|---|---|---|---|---|---|---|---|\n"
            : "| setting | prune_ratio | expansion_rate | window | NDCG@10 | Recall@100 | MRR@10 | top-10 overlap with off | postings scored / query |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (SettingResult s in report.Settings)
        {
            text.Append(c, $"| {s.Label} | {Number(s.PruneRatio)} | {Number(s.ExpansionRate)} | {(s.Window is { } w ? w.ToString(c) : "–")} | {s.Ndcg10:F4} | {s.Recall100:F4} | {s.Mrr10:F4} | {s.Top10OverlapWithOff:P1} |");
            text.Append(cluster ? $" {Latency(s.Took)} | {Latency(s.Client)} |\n" : string.Create(c, $" {s.MeanPostingsScored:N0} |\n"));
        }

        text.Append(c, $"\n![NDCG@10 against {(cluster ? "latency" : "work")}]({chartFile})\n\n");
        text.Append("How these are measured: NDCG@10 (graded gains), Recall@100 and MRR@10 as trec_eval computes ndcg_cut_10, recall_100 and recip_rank ");
        text.Append("(ties by document id descending; judged queries without results count as 0); latency percentiles are nearest-rank over every timed query. ");
        text.Append(cluster
            ? "`took` is the cluster's own time; client time adds the network and JSON on both ends.\n"
            : "Offline work counts the postings phase one reads plus window × low tokens for phase two; a cluster's WAND pruning reads fewer.\n");
        foreach (string note in report.Notes)
        {
            text.Append(c, $"\n> {note}\n");
        }

        return text.ToString();

        static string Number(float? value) => value is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) : "–";

        static string Latency(LatencyJson? l) => l is null ? "–" : string.Create(CultureInfo.InvariantCulture, $"{l.P50:0.#} / {l.P90:0.#} / {l.P99:0.#}");
    }

    /// <summary>NDCG@10 against latency (or work), one labelled point per setting.</summary>
    public static XElement Chart(EvalReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        const double width = 720, height = 440, left = 70, right = 30, top = 40, bottom = 60;
        var points = report.Settings.Select(s => (s.Label, X: XAxis(report, s).Value, Y: s.Ndcg10)).Where(p => p.X is not null).Select(p => (p.Label, X: p.X!.Value, p.Y)).ToList();
        string xTitle = report.Settings.Count > 0 ? XAxis(report, report.Settings[0]).Title : string.Empty;
        double xMax = Nice(points.Count > 0 ? points.Max(p => p.X) * 1.1 : 1);
        double spread = points.Count > 0 ? points.Max(p => p.Y) - points.Min(p => p.Y) : 1;
        double pad = Math.Max(0.005, spread * 0.15);
        double yMin = points.Count > 0 ? Math.Max(0, Math.Floor((points.Min(p => p.Y) - pad) * 100) / 100) : 0;
        double yMax = points.Count > 0 ? Math.Min(1, Math.Ceiling((points.Max(p => p.Y) + pad) * 100) / 100) : 1;
        yMax = yMax <= yMin ? yMin + 0.01 : yMax;
        double X(double v) => left + (v / xMax * (width - left - right));
        double Y(double v) => height - bottom - ((v - yMin) / (yMax - yMin) * (height - top - bottom));
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new XElement(Svg + "svg",
            new XAttribute("width", F(width)), new XAttribute("height", F(height)), new XAttribute("viewBox", $"0 0 {F(width)} {F(height)}"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", "12"),
            new XElement(Svg + "title", $"NDCG@10 against {xTitle}"),
            new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")),
            Text(width / 2, 22, $"NDCG@10 against {xTitle} ({report.Mode})", "middle", 14),
            Line(left, height - bottom, width - right, height - bottom),
            Line(left, top, left, height - bottom),
            Text(width / 2, height - 15, xTitle, "middle", 12),
            new XElement(Svg + "text", new XAttribute("x", "18"), new XAttribute("y", F(height / 2)), new XAttribute("text-anchor", "middle"),
                new XAttribute("transform", $"rotate(-90 18 {F(height / 2)})"), "NDCG@10"));
        for (int i = 0; i <= 5; i++)
        {
            double xv = xMax * i / 5, yv = yMin + ((yMax - yMin) * i / 5);
            svg.Add(Line(X(xv), height - bottom, X(xv), height - bottom + 5), Text(X(xv), height - bottom + 18, F(xv), "middle", 11));
            svg.Add(Line(left - 5, Y(yv), left, Y(yv)), Text(left - 8, Y(yv) + 4, yv.ToString("0.000", CultureInfo.InvariantCulture), "end", 11));
        }

        // Labels alternate above and below their points, so neighbours overlap less.
        foreach ((string label, double x, double y, int i) in points.OrderBy(p => p.X).Select((p, i) => (p.Label, p.X, p.Y, i)))
        {
            svg.Add(new XElement(Svg + "circle", new XAttribute("cx", F(X(x))), new XAttribute("cy", F(Y(y))), new XAttribute("r", "4"),
                new XAttribute("fill", label == "off" ? "#c0392b" : "#2471a3"), new XElement(Svg + "title", $"{label}: NDCG@10 {y:F4}, {F(x)}")));
            svg.Add(Text(X(x) + 6, Y(y) + (i % 2 == 0 ? -7 : 15), label, "start", 10));
        }

        return svg;

        XElement Line(double x1, double y1, double x2, double y2) => new(Svg + "line",
            new XAttribute("x1", F(x1)), new XAttribute("y1", F(y1)), new XAttribute("x2", F(x2)), new XAttribute("y2", F(y2)), new XAttribute("stroke", "#444"));

        XElement Text(double x, double y, string content, string anchor, int size) => new(Svg + "text",
            new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("text-anchor", anchor), new XAttribute("font-size", size), content);
    }

    /// <summary>A round axis maximum (1, 2 or 5 × a power of ten) at or above <paramref name="value"/>.</summary>
    private static double Nice(double value)
    {
        if (value <= 0)
        {
            return 1;
        }

        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return new[] { 1, 2, 5, 10 }.Select(m => m * magnitude).First(v => v >= value);
    }
}
