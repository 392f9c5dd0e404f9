using System.Globalization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using NeuralSparse.Onnx;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Bench;

/// <summary>The machine's float32 GEMM rate through ONNX Runtime's MLAS, with the encoder's thread count.</summary>
internal static class MatMulPeak
{
    public static double Measure(int threads, double minSeconds, Action<string> line)
    {
        double best = 0;
        line("| GEMM (M×K · K×N) | GFLOP/s |");
        line("|---|---|");
        // Shapes of the encoder: FFN, attention projections, the MLM head (the largest GEMM), and a large square one.
        foreach ((int m, int k, int n) in new[] { (256, 768, 3072), (4096, 768, 768), (256, 384, 30522), (2048, 2048, 2048) })
        {
            var graph = new GraphProto { Name = "matmul" };
            var builder = new OnnxGraphBuilder(graph, string.Empty);
            graph.Input.Add(OnnxGraphBuilder.TensorInfo("a", TensorProto.Types.DataType.Float, (long)m, (long)k));
            var random = new Random(1);
            float[] b = [.. Enumerable.Range(0, k * n).Select(_ => (float)random.NextDouble())];
            builder.NodeTo("c", "MatMul", ["a", builder.Initializer("b", b, k, n)]);
            graph.Output.Add(OnnxGraphBuilder.TensorInfo("c", TensorProto.Types.DataType.Float, (long)m, (long)n));
            var model = new ModelProto { IrVersion = 8, Graph = graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });

            using SessionOptions options = OnnxSparseModelBackend.BaseOptions(new OnnxBackendOptions { IntraOpThreads = threads });
            using var session = new InferenceSession(model.ToByteArray(), options);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)random.NextDouble())];
            using OrtValue input = OrtValue.CreateTensorValueFromMemory(a, [m, k]);
            using var runOptions = new RunOptions();
            double seconds = NeuralSparse.Bench.Measure.MedianSeconds(() =>
            {
                using IDisposableReadOnlyCollection<OrtValue> result = session.Run(runOptions, ["a"], [input], ["c"]);
            }, minSeconds);
            double gflops = 2.0 * m * k * n / seconds / 1e9;
            best = Math.Max(best, gflops);
            line(string.Create(CultureInfo.InvariantCulture, $"| {m}×{k} · {k}×{n} | {gflops:F1} |"));
        }

        line(string.Create(CultureInfo.InvariantCulture, $"Measured peak (best of the above): {best:F1} GFLOP/s"));
        return best;
    }
}
