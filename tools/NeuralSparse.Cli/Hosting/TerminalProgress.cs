using Spectre.Console;

namespace NeuralSparse.Cli.Hosting;

/// <summary>A live progress bar on a terminal; nothing on a pipe (where only the final JSON is written).</summary>
internal static class TerminalProgress
{
    /// <summary>Runs <paramref name="body"/>, which reports (done, total); a total of 0 shows a count without a bar end.</summary>
    public static async Task<T> RunAsync<T>(CliHost host, string title, Func<Action<long, long>, Task<T>> body)
    {
        if (!host.IsTerminal)
        {
            return await body((_, _) => { });
        }

        return await new Progress(host.Terminal, host.Time) { RefreshRate = TimeSpan.FromMilliseconds(200) }
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                ProgressTask task = context.AddTask(Markup.Escape(title), maxValue: 1);
                T result = await Task.Run(() => body((done, total) =>
                {
                    task.IsIndeterminate = total <= 0;
                    task.MaxValue = Math.Max(1, total);
                    task.Value = Math.Min(done, task.MaxValue);
                    task.Description = Markup.Escape(total > 0 ? $"{title} {done:N0}/{total:N0}" : $"{title} {done:N0}");
                }));
                task.Value = task.MaxValue;
                return result;
            });
    }
}
