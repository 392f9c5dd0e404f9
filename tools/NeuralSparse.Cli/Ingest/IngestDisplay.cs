using System.Globalization;
using System.Text.Json.Nodes;
using NeuralSparse.Cli.Hosting;
using Spectre.Console;

namespace NeuralSparse.Cli.Ingest;

/// <summary>
/// How ingest shows progress: a live line on a terminal (bar, documents/s, ETA, retries, failures), or on a pipe one
/// JSON object per interval and a final one, nothing else on stdout.
/// </summary>
internal static class IngestDisplay
{
    public static async Task<IngestSnapshot> RunAsync(CliHost host, string title, TimeSpan interval, Func<Action<IngestSnapshot>, Task<IngestSnapshot>> body)
    {
        if (host.IsTerminal)
        {
            return await new Progress(host.Terminal, host.Time) { RefreshRate = TimeSpan.FromMilliseconds(200) }
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    ProgressTask task = context.AddTask(Markup.Escape(title), maxValue: 1);
                    IngestSnapshot last = await body(snapshot =>
                    {
                        task.MaxValue = Math.Max(1, snapshot.TotalBytes);
                        task.Value = snapshot.BytesDone;
                        task.Description = Markup.Escape(Describe(snapshot));
                    });
                    task.Value = task.MaxValue;
                    return last;
                });
        }

        long lastWrite = long.MinValue;
        return await body(snapshot =>
        {
            long now = host.Time.GetTimestamp();
            if (lastWrite == long.MinValue || host.Time.GetElapsedTime(lastWrite, now) >= interval)
            {
                lastWrite = now;
                lock (host.Out)
                {
                    host.Out.WriteLine(Json("progress", snapshot).ToJsonString(CliJson.Line));
                }
            }
        });
    }

    /// <summary>The one-line summary a terminal shows.</summary>
    public static string Describe(IngestSnapshot s) => string.Create(CultureInfo.InvariantCulture,
        $"{s.Indexed:N0} indexed · {s.AlreadyPresent:N0} already present · {s.Failed:N0} failed · {s.Retried:N0} retried · {s.DocumentsPerSecond:N0} docs/s · ETA {(s.Eta is { } eta ? eta.ToString(eta.TotalHours >= 1 ? @"h\:mm\:ss" : @"mm\:ss", CultureInfo.InvariantCulture) : "--:--")}");

    public static JsonObject Json(string @event, IngestSnapshot s) => new()
    {
        ["event"] = @event,
        ["indexed"] = s.Indexed,
        ["alreadyPresent"] = s.AlreadyPresent,
        ["failed"] = s.Failed,
        ["retried"] = s.Retried,
        ["documentsPerSecond"] = Math.Round(s.DocumentsPerSecond, 1),
        ["bytesDone"] = s.BytesDone,
        ["bytesTotal"] = s.TotalBytes,
        ["etaSeconds"] = s.Eta is { } eta ? Math.Round(eta.TotalSeconds, 1) : null,
        ["resumed"] = s.Resumed,
    };
}
