using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Core.Tokenization;
using NeuralSparse.Onnx.Graph;

namespace NeuralSparse.Bench;

/// <summary>
/// The baseline: one InferenceSession.Run on the same fused graph with inputs prepared in advance: no
/// tokenization, batching, copying or sparse post-processing. Encoder time / this time is the core's overhead.
/// </summary>
internal static class BareOrt
{
    public static double MedianSeconds(InferenceSession session, GraphSignature signature, WordPieceTokenizer tokenizer, string[] texts, int sequence, double minSeconds)
    {
        int rows = texts.Length;
        long[] ids = new long[rows * sequence];
        for (int r = 0; r < rows; r++)
        {
            int[] encoded = tokenizer.Encode(texts[r], sequence);
            for (int s = 0; s < sequence; s++)
            {
                ids[(r * sequence) + s] = encoded[s];
            }
        }

        long[] mask = [.. Enumerable.Repeat(1L, rows * sequence)];
        long[] types = new long[rows * sequence];
        long[] shape = [rows, sequence];
        var inputs = signature.InputNames.Select(name => OrtValue.CreateTensorValueFromMemory(
            name switch { "input_ids" => ids, "attention_mask" => mask, _ => types }, shape)).ToList();
        try
        {
            using var runOptions = new RunOptions();
            return Measure.MedianSeconds(() =>
            {
                using IDisposableReadOnlyCollection<OrtValue> result = session.Run(runOptions, [.. signature.InputNames], inputs, [PoolingGraphRewriter.PooledOutputName]);
            }, minSeconds);
        }
        finally
        {
            inputs.ForEach(v => v.Dispose());
        }
    }
}
