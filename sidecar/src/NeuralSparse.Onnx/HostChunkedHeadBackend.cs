using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx;

/// <summary>
/// <see cref="HeadEvaluation.HostChunks"/>: the masked-LM graph cut at its head into two sessions. The body returns
/// the hidden states; the real (unpadded) tokens are projected through the head session in chunks of
/// <see cref="OnnxBackendOptions.HeadChunkTokens"/>, and each chunk's logits are folded into a running per-row max
/// with <see cref="TensorPrimitives"/>, so at most one chunk of logits exists at a time. The result equals the fused
/// graph's <c>act(max(logits × mask))</c>: padding contributes 0 there, and relu maps every negative max to 0.
/// </summary>
internal sealed class HostChunkedHeadBackend : ISparseModelBackend
{
    private readonly InferenceSession _body;
    private readonly InferenceSession _head;
    private readonly string[] _inputNames;
    private readonly bool _takesTokenTypeIds;
    private readonly string _hiddenName;
    private readonly int _hiddenSize;
    private readonly int _columns;
    private readonly int _vocabularySize;
    private readonly int _chunkTokens;
    private readonly SparseActivation _activation;

    private HostChunkedHeadBackend(
        InferenceSession body, InferenceSession head, GraphSignature signature, MaskedLmHead maskedLmHead, SparseModelDefinition model, int chunkTokens, string description)
    {
        _body = body;
        _head = head;
        _inputNames = [.. signature.InputNames];
        _takesTokenTypeIds = signature.TakesTokenTypeIds;
        _hiddenName = maskedLmHead.Hidden;
        _hiddenSize = checked((int)maskedLmHead.HiddenSize);
        _columns = checked((int)maskedLmHead.Columns);
        _vocabularySize = model.Tokenizer.VocabularySize;
        _chunkTokens = chunkTokens;
        _activation = model.Activation;
        Description = description;
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>The cores the runs' threads are pinned to; null where they are not.</summary>
    private CorePinning? Pinning { get; init; }

    /// <summary>Loads the two sessions, or returns null (having logged why) when the graph's head cannot be found.</summary>
    public static HostChunkedHeadBackend? TryCreate(SparseModelDefinition model, OnnxBackendOptions options, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.HeadChunkTokens, 1, nameof(options));
        (ModelProto graph, GraphSignature signature, string graphDirectory) = OnnxSparseModelBackend.LoadGraph(model, options, logger);
        string reason = "the graph already ends in pooled weights";
        if (signature.OutputKind != GraphOutputKind.Logits || MaskedLmHead.Find(graph, signature, out reason) is not { } head)
        {
            OnnxBackendLog.HeadNotChunked(logger, model.Name, reason);
            return null;
        }

        if (options.Quantization != WeightQuantization.None)
        {
            ExternalData.LoadInto(graph, graphDirectory); // quantization rewrites weight values
        }

        (ModelProto body, ModelProto headGraph) = HeadSplitter.Split(graph, head);
        string quantization = Int8WeightQuantizer.Apply(body, options.Quantization, logger, model.Name);
        Int8WeightQuantizer.Apply(headGraph, options.Quantization, logger, model.Name);

        // Both sessions run one after the other within a run: the same cores serve both.
        CorePinning? requested = CorePinning.For(options);
        (InferenceSession bodySession, ExecutionDevice device) = OnnxSparseModelBackend.CreateSession(body.ToByteArray(), graphDirectory, model, options, requested, logger);
        try
        {
            (InferenceSession headSession, _) = OnnxSparseModelBackend.CreateSession(headGraph.ToByteArray(), graphDirectory, model, options, requested, logger);
            CorePinning? pinning = CorePinning.InEffect(requested, device);
            string description = string.Create(CultureInfo.InvariantCulture,
                $"ONNX Runtime {OnnxSparseModelBackend.RuntimeVersion} on {device} ({options.EffectiveIntraOpThreads} intra-op threads{CorePinning.Describe(pinning)}), head over chunks of {options.HeadChunkTokens} real tokens, pooling on the host{quantization}");
            if (model.Synthetic)
            {
                OnnxBackendLog.SyntheticModel(logger, model.Name);
            }

            OnnxBackendLog.ModelLoaded(logger, model.Name, model.ModelPath, description);
            return new HostChunkedHeadBackend(bodySession, headSession, signature, head, model, options.HeadChunkTokens, description)
            {
                Pinning = pinning,
            };
        }
        catch
        {
            bodySession.Dispose();
            throw;
        }
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
        float[] tokens = ArrayPool<float>.Shared.Rent(_chunkTokens * _hiddenSize);
        float[] logits = ArrayPool<float>.Shared.Rent(_chunkTokens * _columns);
        int[] rowOfToken = ArrayPool<int>.Shared.Rent(_chunkTokens);
        List<OrtValue> inputs = [];
        try
        {
            inputs = OnnxSparseModelBackend.CreateInputs(batch, _inputNames, tokenTypes);
            using var runOptions = new RunOptions();
            using CancellationTokenRegistration registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions);
            using CorePinning.CallerScope pinned = CorePinning.PinCaller(Pinning);
            using IDisposableReadOnlyCollection<OrtValue> results = _body.Run(runOptions, _inputNames, inputs, [_hiddenName]);
            ReadOnlySpan<float> hidden = results.First().GetTensorDataAsSpan<float>();

            // The running max starts at 0, as the fused graph's max includes the 0 of masked positions.
            Span<float> pooled = output[..(rows * _vocabularySize)];
            pooled.Clear();
            int count = 0;
            for (int r = 0; r < rows; r++)
            {
                for (int s = 0; s < batch.SequenceLength; s++)
                {
                    if (batch.AttentionMask[(r * batch.SequenceLength) + s] == 0)
                    {
                        continue;
                    }

                    hidden.Slice(((r * batch.SequenceLength) + s) * _hiddenSize, _hiddenSize).CopyTo(tokens.AsSpan(count * _hiddenSize));
                    rowOfToken[count++] = r;
                    if (count == _chunkTokens)
                    {
                        ProjectAndPool(runOptions, tokens, logits, rowOfToken, count, pooled);
                        count = 0;
                    }
                }
            }

            if (count > 0)
            {
                ProjectAndPool(runOptions, tokens, logits, rowOfToken, count, pooled);
            }

            for (int r = 0; r < rows; r++)
            {
                SparsePooling.Activate(pooled.Slice(r * _vocabularySize, _vocabularySize), _activation);
            }
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
            inputs.ForEach(v => v.Dispose());
            if (tokenTypes is not null)
            {
                ArrayPool<long>.Shared.Return(tokenTypes);
            }

            ArrayPool<float>.Shared.Return(tokens);
            ArrayPool<float>.Shared.Return(logits);
            ArrayPool<int>.Shared.Return(rowOfToken);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _body.Dispose();
        _head.Dispose();
    }

    private void ProjectAndPool(RunOptions runOptions, float[] tokens, float[] logits, int[] rowOfToken, int count, Span<float> pooled)
    {
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tokens.AsMemory(0, count * _hiddenSize), [count, _hiddenSize]);
        using OrtValue result = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, logits.AsMemory(0, count * _columns), [count, _columns]);
        _head.Run(runOptions, [HeadSplitter.HeadInputName], [input], [HeadSplitter.HeadOutputName], [result]);
        for (int t = 0; t < count; t++)
        {
            Span<float> row = pooled.Slice(rowOfToken[t] * _vocabularySize, _vocabularySize);
            TensorPrimitives.Max(row, logits.AsSpan(t * _columns, _vocabularySize), row);
        }
    }
}
