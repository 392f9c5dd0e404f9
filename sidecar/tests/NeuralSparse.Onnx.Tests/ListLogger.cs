using Microsoft.Extensions.Logging;

namespace NeuralSparse.Onnx.Tests;

/// <summary>Collects log entries so tests can assert what a component reported.</summary>
internal sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, EventId Event, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Add((logLevel, eventId, formatter(state, exception)));
}
