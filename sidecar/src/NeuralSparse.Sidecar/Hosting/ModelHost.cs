using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Options;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Onnx;
using NeuralSparse.Sidecar.Configuration;
using NeuralSparse.Sidecar.Metrics;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>
/// Loads every configured model in the background (so liveness answers at once), warms the service up
/// (<see cref="ServiceWarmUp"/>: each batch-size step, then the request paths until the JIT is quiet), then reports
/// ready. Requests are served from the moment the models are loaded (the warm-up's own requests go through the
/// real transports); readiness says when the first ones will be as fast as later ones. On shutdown readiness drops
/// first; the schedulers are drained when the container is disposed, after the server has finished its in-flight
/// requests.
/// </summary>
internal sealed class ModelHost(
    IOptions<SidecarOptions> options,
    ILoggerFactory loggerFactory,
    IHostApplicationLifetime lifetime,
    SidecarMetrics metrics,
    IServer? server = null) : BackgroundService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<ModelHost>();
    private readonly object _gate = new();
    private Dictionary<string, EncodeScheduler> _schedulers = new(StringComparer.Ordinal);
    private EncodeScheduler? _default;
    private TaskCompletionSource _readinessChanged = NewSignal();
    private bool _ready;
    private bool _accepting;

    /// <summary>True once every model is loaded and warmed up, until shutdown begins.</summary>
    public bool IsReady
    {
        get
        {
            lock (_gate)
            {
                return _ready;
            }
        }
    }

    /// <summary>Completes the next time <see cref="IsReady"/> changes.</summary>
    public Task ReadinessChanged
    {
        get
        {
            lock (_gate)
            {
                return _readinessChanged.Task;
            }
        }
    }

    /// <summary>The loaded schedulers, default model first.</summary>
    public IReadOnlyCollection<EncodeScheduler> Schedulers
    {
        get
        {
            lock (_gate)
            {
                return [.. _schedulers.Values];
            }
        }
    }

    /// <summary>The scheduler of <paramref name="modelName"/>, or of the default model when null or empty.</summary>
    /// <exception cref="NeuralSparseException">Unavailable before the models are loaded; ModelNotFound for an unknown name.</exception>
    public EncodeScheduler Resolve(string? modelName)
    {
        lock (_gate)
        {
            if (!_accepting || _default is null)
            {
                throw new NeuralSparseException(NeuralSparseErrorKind.Unavailable, "The models are still loading, or the service is shutting down; retry shortly.");
            }

            if (string.IsNullOrEmpty(modelName))
            {
                return _default;
            }

            return _schedulers.TryGetValue(modelName, out EncodeScheduler? scheduler)
                ? scheduler
                : throw new NeuralSparseException(NeuralSparseErrorKind.ModelNotFound,
                    $"Model '{modelName}' is not served. Served models: {string.Join(", ", _schedulers.Keys)}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The server has stopped by now: drain what was admitted, then release the sessions.
        foreach (EncodeScheduler scheduler in Schedulers)
        {
            await scheduler.DisposeAsync();
            scheduler.Encoder.Dispose();
        }

        Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var serverStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => serverStarted.TrySetResult());
        lifetime.ApplicationStopping.Register(() =>
        {
            lock (_gate)
            {
                _accepting = false;
            }

            SetReady(false);
            SidecarLog.ShuttingDown(_logger, Schedulers.Sum(s => s.TextsInFlight));
        });

        var clock = Stopwatch.StartNew();
        try
        {
            // ONNX Runtime session creation is CPU-bound and synchronous: keep it off the host's start-up path.
            List<EncodeScheduler> loaded = await Task.Run(() => LoadAll(stoppingToken), stoppingToken);
            lock (_gate)
            {
                _schedulers = loaded.ToDictionary(s => s.Encoder.Model.Name, StringComparer.Ordinal);
                _default = loaded[0];
                _accepting = !stoppingToken.IsCancellationRequested;
            }

            metrics.ObserveQueues(() => Schedulers);
            await new ServiceWarmUp(options.Value, server, _logger).RunAsync(loaded, serverStarted.Task, stoppingToken);
            SetReady(!stoppingToken.IsCancellationRequested);
            SidecarLog.ModelsReady(_logger, loaded.Count, string.Join(", ", loaded.Select(s => s.Encoder.Model.Name)), clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is NeuralSparseException or InvalidOperationException or IOException or ArgumentException)
        {
            SidecarLog.ModelLoadFailed(_logger, ex.Message, ex);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    private List<EncodeScheduler> LoadAll(CancellationToken cancellationToken)
    {
        SidecarOptions settings = options.Value;
        List<ModelOptions> configured = settings.Models;
        if (configured.Count == 0)
        {
            using var message = new StringWriter();
            string directory = DemoModelLocator.Resolve(null, message);
            SidecarLog.DemoModel(_logger, directory);
            configured = [new ModelOptions { Directory = directory }];
        }

        var schedulers = new List<EncodeScheduler>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (ModelOptions model in configured)
        {
            cancellationToken.ThrowIfCancellationRequested();
            SparseModelDefinition definition = ModelDirectory.Load(model.Directory!);
            if (model.Name is { Length: > 0 } rename)
            {
                definition = definition.WithName(rename);
            }

            if (model.MaxLength is { } maxLength)
            {
                definition = definition.WithMaxLength(maxLength);
            }

            if (!names.Add(definition.Name))
            {
                throw new InvalidOperationException($"Two configured models are named '{definition.Name}'; set NeuralSparse:Models:N:Name to tell them apart.");
            }

            var backendOptions = new OnnxBackendOptions
            {
                Device = model.Device == "cuda" ? ExecutionDevice.Cuda : ExecutionDevice.Cpu,
                RequireDevice = model.RequireDevice,
                IntraOpThreads = model.IntraOpThreads,
                AllowSpinning = model.AllowSpinning,
                SpinBetweenRuns = model.SpinBetweenRuns,
                PinThreads = model.PinThreads,
                GraphCacheDirectory = settings.GraphCacheDirectory,
                WeightPrecision = model.Precision == "fp16" ? WeightPrecision.Float16 : WeightPrecision.Float32,
                Head = model.Head switch { "host-chunks" => HeadEvaluation.HostChunks, "fused" => HeadEvaluation.Fused, _ => HeadEvaluation.GraphChunks },
                HeadChunkTokens = model.HeadChunkTokens,
                Quantization = model.Quantization == "int8" ? WeightQuantization.Int8 : WeightQuantization.None,
            };
            var batching = new SparseEncoderOptions { MaxBatchSize = settings.Batching.MaxBatchSize, MaxBatchTokens = settings.Batching.MaxBatchTokens };
            var encoder = new SparseEncoder(definition, SparseModelBackends.Create(definition, backendOptions, loggerFactory.CreateLogger<OnnxSparseModelBackend>()), batching);
            var scheduler = new EncodeScheduler(encoder, new EncodeSchedulerOptions
            {
                QueueCapacity = settings.Batching.QueueCapacity,
                MaxWait = TimeSpan.FromMilliseconds(settings.Batching.MaxWaitMilliseconds),
                Batching = batching,
            });
            metrics.Attach(scheduler);
            schedulers.Add(scheduler);
        }

        return schedulers;
    }

    private void SetReady(bool ready)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (_ready == ready)
            {
                return;
            }

            _ready = ready;
            changed = _readinessChanged;
            _readinessChanged = NewSignal();
        }

        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
