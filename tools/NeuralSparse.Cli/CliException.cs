namespace NeuralSparse.Cli;

/// <summary>A failure the user can fix (bad input, unreachable service): reported as one line on stderr, exit code 1.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
