using System.Buffers;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Hub;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx;

/// <summary>
/// Runs a sparse encoding model with ONNX Runtime. One <see cref="InferenceSession"/> per model, called
/// concurrently (Run is thread-safe). By default the graph is rewritten at load so pooling and the activation run
/// inside ORT and only [batch, vocab] comes back.
/// </summary>
public sealed class OnnxSparseModelBackend : ISparseModelBackend
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string _outputName;
    private readonly bool _takesTokenTypeIds;
    private readonly PoolingPlacement _pooling;
    private readonly SparseActivation _activation;
    private readonly int _vocabularySize;

    private OnnxSparseModelBackend(
        InferenceSession session, GraphSignature signature, PoolingPlacement pooling, SparseActivation activation,
        int vocabularySize, string description)
    {
        _session = session;
        _inputNames = [.. signature.InputNames];
        _takesTokenTypeIds = signature.TakesTokenTypeIds;
        _pooling = pooling;
        _outputName = pooling == PoolingPlacement.Graph && signature.OutputKind == GraphOutputKind.Logits
            ? PoolingGraphRewriter.PooledOutputName
            : signature.OutputName;
        _activation = activation;
        _vocabularySize = vocabularySize;
        Description = description;
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>The cores the runs' threads are pinned to; null where they are not.</summary>
    private CorePinning? Pinning { get; init; }

    /// <summary>The device the session actually runs on (after any fallback).</summary>
    public ExecutionDevice Device { get; private init; }

    /// <summary>ONNX Runtime's name of the execution provider the session runs on (after any fallback), e.g. CUDAExecutionProvider.</summary>
    public string ExecutionProvider => ProviderName(Device);

    /// <summary>The ONNX Runtime version in use.</summary>
    public static string RuntimeVersion
    {
        get
        {
            OnnxRuntimeEnvironment.EnsureConfigured();
            return OrtEnv.Instance().GetVersionString();
        }
    }

    /// <summary>The execution providers the loaded ONNX Runtime library was built with (CUDA only in the Gpu flavor).</summary>
    public static IReadOnlyList<string> AvailableProviders
    {
        get
        {
            OnnxRuntimeEnvironment.EnsureConfigured();
            return OrtEnv.Instance().GetAvailableProviders();
        }
    }

    /// <summary>The execution provider <paramref name="encoder"/>'s model runs on; "unknown" for a backend other than this one.</summary>
    public static string ExecutionProviderOf(SparseEncoder encoder) =>
        encoder?.Backend is OnnxSparseModelBackend onnx ? onnx.ExecutionProvider : "unknown";

    /// <summary>ONNX Runtime's name of the provider for <paramref name="device"/>.</summary>
    public static string ProviderName(ExecutionDevice device) => device switch
    {
        ExecutionDevice.Cuda => "CUDAExecutionProvider",
        _ => "CPUExecutionProvider",
    };

    /// <summary>Loads <paramref name="model"/>'s graph into an ONNX Runtime session.</summary>
    /// <exception cref="NeuralSparseException">Kind ModelLoad, naming the file and the fix.</exception>
    public static OnnxSparseModelBackend Create(SparseModelDefinition model, OnnxBackendOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxBackendOptions();
        logger ??= NullLogger.Instance;
        int vocabularySize = model.Tokenizer.VocabularySize;

        (byte[] graphBytes, GraphSignature signature, PoolingPlacement pooling, string poolingText, string graphDirectory) = PrepareGraph(model, options, logger);
        CorePinning? requested = CorePinning.For(options);
        (InferenceSession session, ExecutionDevice device) = CreateSession(graphBytes, graphDirectory, model, options, requested, logger);
        CorePinning? pinning = CorePinning.InEffect(requested, device);
        string description = string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"ONNX Runtime {RuntimeVersion} on {ProviderName(device)} ({options.EffectiveIntraOpThreads} intra-op threads{CorePinning.Describe(pinning)}), {poolingText}{(model.Hub is null ? "" : $", graph built from the Hugging Face weights ({options.WeightPrecision})")}");

        if (model.Synthetic)
        {
            OnnxBackendLog.SyntheticModel(logger, model.Name);
        }

        OnnxBackendLog.ModelLoaded(logger, model.Name, model.ModelPath, description);
        return new OnnxSparseModelBackend(session, signature, pooling, model.Activation, vocabularySize, description)
        {
            Device = device,
            Pinning = pinning,
        };
    }

    /// <summary>
    /// Reads and checks <paramref name="model"/>'s graph and, for logits graphs with graph pooling, appends pooling
    /// (through the chunked head unless <see cref="OnnxBackendOptions.Head"/> says otherwise), then applies the
    /// requested weight quantization. Returns the serialized graph ONNX Runtime loads (also used by the benchmark's
    /// bare-ORT baseline), a description of where pooling runs, and the folder the graph's external data lives in.
    /// </summary>
    internal static (byte[] Graph, GraphSignature Signature, PoolingPlacement Pooling, string PoolingText, string GraphDirectory) PrepareGraph(
        SparseModelDefinition model, OnnxBackendOptions options, ILogger logger)
    {
        (ModelProto graph, GraphSignature signature, string graphDirectory) = LoadGraph(model, options, logger);
        PoolingPlacement pooling = signature.OutputKind == GraphOutputKind.Pooled ? PoolingPlacement.Graph : options.Pooling;
        string poolingText = signature.OutputKind == GraphOutputKind.Pooled
            ? "pooling in the exported graph"
            : pooling == PoolingPlacement.Graph ? "pooling fused into the graph" : "pooling on the host";
        if (signature.OutputKind == GraphOutputKind.Logits && pooling == PoolingPlacement.Graph)
        {
            if (options.Head != HeadEvaluation.Fused
                && ChunkedHeadRewriter.TryAppendChunkedPooling(graph, signature, model.Activation, model.Tokenizer.VocabularySize, options.HeadChunkTokens, logger, model.Name))
            {
                poolingText = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"head and pooling in the graph over chunks of {options.HeadChunkTokens} tokens");
            }
            else
            {
                PoolingGraphRewriter.AppendPooling(graph, signature, model.Activation, model.Tokenizer.VocabularySize);
            }
        }

        if (options.Quantization != WeightQuantization.None)
        {
            // Quantization rewrites weight values, so weights kept beside the graph (hub-built graphs) are read in first.
            ExternalData.LoadInto(graph, graphDirectory);
        }

        poolingText += Int8WeightQuantizer.Apply(graph, options.Quantization, logger, model.Name);
        return (graph.ToByteArray(), signature, pooling, poolingText, graphDirectory);
    }

    /// <summary>
    /// Reads <paramref name="model"/>'s graph (for a Hugging Face folder, the one built from its weights, from the
    /// cache) and checks it against the tokenizer and preset. Also returns the folder its external data lives in.
    /// </summary>
    /// <exception cref="NeuralSparseException">Kind ModelLoad, naming the file and the fix.</exception>
    internal static (ModelProto Graph, GraphSignature Signature, string Directory) LoadGraph(SparseModelDefinition model, OnnxBackendOptions options, ILogger logger)
    {
        int vocabularySize = model.Tokenizer.VocabularySize;
        string graphPath = model.Hub is { } hub ? HubGraphCache.GetOrBuild(model, hub, options, logger) : model.ModelPath;
        ModelProto graph;
        GraphSignature signature;
        try
        {
            using (FileStream stream = File.OpenRead(graphPath))
            {
                graph = ModelProto.Parser.ParseFrom(stream);
            }

            signature = PoolingGraphRewriter.Inspect(graph);
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidProtocolBufferException or IOException)
        {
            throw NeuralSparseException.ModelLoad($"'{graphPath}' is not a usable ONNX masked-LM: {ex.Message}", ex);
        }

        if (signature.StaticColumns is { } columns)
        {
            if (columns < vocabularySize)
            {
                throw NeuralSparseException.ModelLoad(
                    $"'{model.ModelPath}' outputs {columns} columns but '{model.TokenizerPath}' has {vocabularySize} tokens: the tokenizer does not belong to this model. Use the tokenizer the model was trained with.");
            }

            if (columns > vocabularySize)
            {
                OnnxBackendLog.ExtraLogitColumns(logger, model.Name, columns, vocabularySize);
            }
        }

        if (signature.TakesTokenTypeIds != (model.Preset?.TakesTokenTypeIds ?? signature.TakesTokenTypeIds))
        {
            throw NeuralSparseException.ModelLoad(
                $"'{model.ModelPath}' {(signature.TakesTokenTypeIds ? "takes" : "does not take")} token_type_ids, which does not fit preset '{model.Preset!.ShortName}' ({model.Preset.Architecture}). Check that the directory holds that model's export.");
        }

        return (graph, signature, Path.GetDirectoryName(graphPath)!);
    }

    /// <inheritdoc />
    public void Run(ModelBatch batch, Span<float> output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int rows = batch.BatchSize;
        if (output.Length < rows * _vocabularySize)
        {
            throw new ArgumentException($"Output must hold {rows} × {_vocabularySize} floats.", nameof(output));
        }

        cancellationToken.ThrowIfCancellationRequested();
        long[]? tokenTypes = _takesTokenTypeIds ? ArrayPool<long>.Shared.Rent(batch.ElementCount) : null;
        List<OrtValue> inputs = [];
        try
        {
            inputs = CreateInputs(batch, _inputNames, tokenTypes);
            using var runOptions = new RunOptions();
            using CancellationTokenRegistration registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions);
            using CorePinning.CallerScope pinned = CorePinning.PinCaller(Pinning);
            using IDisposableReadOnlyCollection<OrtValue> results = _session.Run(runOptions, _inputNames, inputs, [_outputName]);
            ReadOutput(results.First(), batch, output);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The model run was cancelled.", cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.Backend, $"ONNX Runtime failed to run the model: {ex.Message}", ex);
        }
        finally
        {
            foreach (OrtValue value in inputs)
            {
                value.Dispose();
            }

            if (tokenTypes is not null)
            {
                ArrayPool<long>.Shared.Return(tokenTypes);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    /// <summary>
    /// The graph inputs of <paramref name="batch"/> by name, over its arrays (no copy); token types come from
    /// <paramref name="tokenTypes"/> (a rented buffer, zeroed here) when the graph takes them.
    /// </summary>
    internal static List<OrtValue> CreateInputs(ModelBatch batch, IReadOnlyList<string> inputNames, long[]? tokenTypes)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        var inputs = new List<OrtValue>(inputNames.Count);
        foreach (string name in inputNames)
        {
            long[] data = name switch
            {
                "input_ids" => batch.InputIds,
                "attention_mask" => batch.AttentionMask,
                _ => tokenTypes!,
            };
            if (ReferenceEquals(data, tokenTypes))
            {
                // Single-sequence inputs: every token type is 0.
                Array.Clear(tokenTypes, 0, batch.ElementCount);
            }

            inputs.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, data.AsMemory(0, batch.ElementCount), shape));
        }

        return inputs;
    }

    private void ReadOutput(OrtValue value, ModelBatch batch, Span<float> output)
    {
        long[] shape = value.GetTensorTypeAndShape().Shape;
        ReadOnlySpan<float> data = value.GetTensorDataAsSpan<float>();
        int columns = (int)shape[^1];
        if (columns < _vocabularySize)
        {
            throw new NeuralSparseException(NeuralSparseErrorKind.Backend,
                $"The model returned {columns} columns for a {_vocabularySize}-token vocabulary; the tokenizer does not belong to this model.");
        }

        if (shape.Length == 2)
        {
            for (int r = 0; r < batch.BatchSize; r++)
            {
                data.Slice(r * columns, _vocabularySize).CopyTo(output.Slice(r * _vocabularySize, _vocabularySize));
            }

            return;
        }

        // Host pooling over [batch, sequence, columns] logits.
        int sequenceLength = batch.SequenceLength;
        for (int r = 0; r < batch.BatchSize; r++)
        {
            SparsePooling.MaxPoolActivate(
                data.Slice(r * sequenceLength * columns, sequenceLength * columns),
                batch.AttentionMask.AsSpan(r * sequenceLength, sequenceLength),
                _vocabularySize,
                columns,
                _activation,
                output.Slice(r * _vocabularySize, _vocabularySize));
        }
    }

    /// <param name="pinning">Cores for a CPU session's pool threads (<see cref="CorePinning"/>); not used on CUDA.</param>
    internal static (InferenceSession Session, ExecutionDevice Device) CreateSession(
        byte[] graph, string? graphDirectory, SparseModelDefinition model, OnnxBackendOptions options, CorePinning? pinning, ILogger logger)
    {
        if (options.Device == ExecutionDevice.Cuda)
        {
            // ORT copies session options into the session, so they can be disposed right after creation.
            using SessionOptions cudaOptions = BaseOptions(options, graphDirectory);
            try
            {
                cudaOptions.AppendExecutionProvider_CUDA(options.CudaDeviceId);
                return (new InferenceSession(graph, cudaOptions), ExecutionDevice.Cuda);
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                if (options.RequireDevice)
                {
                    throw NeuralSparseException.ModelLoad(
                        $"CUDA was required for model '{model.Name}' but is unavailable: {ex.Message}. Run the Gpu flavor (built with -p:OnnxRuntimeFlavor=Gpu; ONNX Runtime providers here: {string.Join(", ", AvailableProviders)}) on a machine with an NVIDIA GPU and the CUDA 13 runtime, or allow the CPU fallback.", ex);
                }

                OnnxBackendLog.DeviceUnavailable(logger, ExecutionDevice.Cuda, model.Name, ex.Message);
            }
        }

        using SessionOptions cpuOptions = BaseOptions(options, graphDirectory);
        pinning?.ApplyTo(cpuOptions);
        try
        {
            return (new InferenceSession(graph, cpuOptions), ExecutionDevice.Cpu);
        }
        catch (OnnxRuntimeException ex)
        {
            throw NeuralSparseException.ModelLoad($"ONNX Runtime cannot load '{model.ModelPath}': {ex.Message}", ex);
        }
    }

    /// <param name="options">The backend's settings.</param>
    /// <param name="graphDirectory">Where the graph's external data (weights stored beside the graph) is read from.</param>
    internal static SessionOptions BaseOptions(OnnxBackendOptions options, string? graphDirectory = null)
    {
        OnnxRuntimeEnvironment.EnsureConfigured();
        var session = new SessionOptions
        {
            IntraOpNumThreads = options.EffectiveIntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (!options.AllowSpinning)
        {
            session.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        }
        else if (!options.SpinBetweenRuns)
        {
            session.AddSessionConfigEntry("session.force_spinning_stop", "1");
        }

        // The graph is handed over as bytes, so ORT needs to be told where its external-data files are.
        if (graphDirectory is not null)
        {
            session.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", graphDirectory);
        }

        return session;
    }
}
