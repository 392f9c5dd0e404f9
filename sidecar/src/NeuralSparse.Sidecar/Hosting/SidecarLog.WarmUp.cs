namespace NeuralSparse.Sidecar.Hosting;

/// <summary>Warm-up events (ids 1050–1059).</summary>
internal static partial class SidecarLog
{
    [LoggerMessage(EventId = 1050, EventName = "WarmedUp", Level = LogLevel.Information,
        Message = "Warm-up: {Seconds:F1} s, batch sizes up to {LargestBatch} × {Tokens} tokens, {Rounds} request round(s) ({Transports}); JIT {JitState} ({Methods} methods compiled).")]
    public static partial void WarmedUp(ILogger logger, double seconds, int largestBatch, int tokens, int rounds, string transports, string jitState, long methods);

    [LoggerMessage(EventId = 1051, EventName = "TransportWarmUpSkipped", Level = LogLevel.Debug,
        Message = "Warm-up over {Transport} skipped: {Reason}")]
    public static partial void TransportWarmUpSkipped(ILogger logger, string transport, string reason);
}
