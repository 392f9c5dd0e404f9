using Spectre.Console;

namespace NeuralSparse.Cli.Hosting;

/// <summary>
/// Where a run reads settings and writes output. On a terminal the commands show live progress and tables
/// (<see cref="Terminal"/>); on a pipe they write only machine-readable JSON lines to <see cref="Out"/>. Errors and
/// warnings always go to <see cref="Error"/>. Tests substitute every part.
/// </summary>
internal sealed class CliHost
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    /// <summary>True when stdout is a terminal: human output; false: JSON lines.</summary>
    public required bool IsTerminal { get; init; }

    /// <summary>The terminal renderer (used only when <see cref="IsTerminal"/>).</summary>
    public required IAnsiConsole Terminal { get; init; }

    /// <summary>Reads an environment variable (NEURAL_SPARSE_*).</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The process's own console.</summary>
    public static CliHost FromConsole()
    {
        bool terminal = !Console.IsOutputRedirected;
        return new CliHost
        {
            Out = Console.Out,
            Error = Console.Error,
            IsTerminal = terminal,
            Terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }),
        };
    }
}
