using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using NeuralSparse.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Testing;

namespace NeuralSparse.Cli.Tests.Infrastructure;

/// <summary>What one CLI run printed and returned.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Error)
{
    public string[] Lines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Runs the CLI in process (as on a pipe, or on a test terminal) or as a real child process.</summary>
internal static partial class CliRunner
{
    public const int SigKill = 9;
    public const int SigInt = 2;
    public const int SigTerm = 15;

    /// <summary>
    /// Whether this process ignores <paramref name="signal"/> (<c>SigIgn</c> in /proc/self/status). Children inherit
    /// an ignored signal, and .NET keeps it ignored: a test run started in the background by a non-interactive shell
    /// ignores SIGINT, so the CLI it starts never sees Ctrl-C.
    /// </summary>
    public static bool IgnoresSignal(int signal)
    {
        string? line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
    }

    /// <summary>In process, stdout a pipe: machine-readable output only.</summary>
    public static async Task<CliRun> RunAsync(params string[] args) => await RunAsync(new Dictionary<string, string>(), args);

    public static async Task<CliRun> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var host = new CliHost
        {
            Out = output,
            Error = error,
            IsTerminal = false,
            Terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }),
            Environment = name => environment.GetValueOrDefault(name),
        };
        int code = await CliApplication.RunAsync(args, host);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    /// <summary>In process on a test terminal (interactive, ANSI): what a person sees.</summary>
    public static async Task<CliRun> RunOnTerminalAsync(params string[] args)
    {
        var terminal = new TestConsole().Interactive().EmitAnsiSequences().Width(160);
        var error = new StringWriter();
        var host = new CliHost { Out = TextWriter.Null, Error = error, IsTerminal = true, Terminal = terminal, Environment = _ => null };
        int code = await CliApplication.RunAsync(args, host);
        return new CliRun(code, terminal.Output, error.ToString());
    }

    /// <summary>The built CLI as a child process, stdout and stderr redirected (a pipe).</summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Assembly);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start)!;
    }

    /// <summary>Runs the built CLI to the end as a child process.</summary>
    public static async Task<CliRun> RunProcessAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        using Process process = Start(args);
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancellation.Token);
        return new CliRun(process.ExitCode, await output, await error);
    }

    /// <summary>The command line that runs the built CLI (for a pseudo-terminal via script(1)).</summary>
    public static string Assembly
    {
        get
        {
            // Same configuration as these tests: .../bin/<Configuration>/net10.0/
            string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
            string path = Path.Combine(NeuralSparse.Tests.SharedData.RepositoryRoot, "tools", "NeuralSparse.Cli", "bin", configuration, "net10.0", "neural-sparse.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("Build the CLI first (dotnet build).", path);
        }
    }

    public static void Signal(Process process, int signal) => Kill(process.Id, signal);

    /// <summary>A fixture file's path (copied next to the test binaries).</summary>
    public static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    /// <summary>A fresh temporary folder.</summary>
    public static string TempDirectory(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"cli-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
