using System.CommandLine;
using NeuralSparse.Cli.Commands;
using NeuralSparse.Cli.Hosting;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Cli;

/// <summary>The <c>neural-sparse</c> command line: the commands, their common options, and one error policy.</summary>
internal static class CliApplication
{
    /// <summary>Exit code: the command could not do its work (bad input, cluster or sidecar error).</summary>
    public const int Failed = 1;

    /// <summary>Exit code: the command line itself is wrong.</summary>
    public const int Usage = 2;

    /// <summary>Exit code: ingest finished, but some documents failed (listed in the failures file).</summary>
    public const int DocumentsFailed = 3;

    /// <summary>Exit code: interrupted (Ctrl-C); a checkpoint, where there is one, is saved.</summary>
    public const int Interrupted = 130;

    public static async Task<int> RunAsync(string[] args, CliHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(host);
        var common = new CommonOptions();
        var root = new RootCommand("neural-sparse: provision OpenSearch neural sparse search, ingest through the sidecar, and measure relevance and latency of two-phase settings on your data.")
        {
            ProvisionCommand.Create(common, host),
            IngestCommand.Create(common, host),
            EncodeCommand.Create(common, host),
            EvalCommand.Create(common, host),
            GenerateCommand.Create(host),
        };
        foreach (Option option in common.All)
        {
            root.Options.Add(option);
        }

        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
            {
                await host.Error.WriteLineAsync($"error: {error.Message}");
            }

            await host.Error.WriteLineAsync("Run 'neural-sparse --help' (or '<command> --help') for usage.");
            return Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = host.Out, Error = host.Error, EnableDefaultExceptionHandler = false }, cancellationToken);
    }

    /// <summary>Runs a command body with the one error policy: a clear line on stderr and an exit code, never a stack trace.</summary>
    public static async Task<int> GuardAsync(CliHost host, Func<Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body();
        }
        catch (OperationCanceledException)
        {
            await host.Error.WriteLineAsync("Interrupted.");
            return Interrupted;
        }
        catch (CliException ex)
        {
            await host.Error.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
        catch (OpenSearchException ex)
        {
            await host.Error.WriteLineAsync($"error: the cluster refused: {ex.Message}");
            return Failed;
        }
        catch (NotSupportedException ex)
        {
            await host.Error.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
        catch (HttpRequestException ex)
        {
            await host.Error.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
        catch (IOException ex)
        {
            await host.Error.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
        catch (UnauthorizedAccessException ex)
        {
            await host.Error.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
    }
}
