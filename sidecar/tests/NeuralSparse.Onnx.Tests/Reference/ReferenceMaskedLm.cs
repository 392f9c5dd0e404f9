using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Onnx.Tests.Reference;

/// <summary>
/// An independent forward pass of the generated masked-LM, written plainly in double precision from the BERT
/// equations: no ONNX Runtime, no graph, one unpadded sequence at a time. The pipeline under test (ORT, padding,
/// masks, in-graph pooling) must agree with it.
/// </summary>
internal static class ReferenceMaskedLm
{
    /// <summary>Max-pooled, activated weights over the whole output width for one sequence of token ids.</summary>
    public static double[] PooledWeights(SyntheticWeights weights, int[] tokenIds, SparseActivation activation)
    {
        double[][] logits = Logits(weights, tokenIds);
        int columns = logits[0].Length;
        double[] pooled = new double[columns];
        for (int v = 0; v < columns; v++)
        {
            double max = double.NegativeInfinity;
            foreach (double[] row in logits)
            {
                max = Math.Max(max, row[v]);
            }

            double w = Math.Log(1 + Math.Max(0, max));
            pooled[v] = activation == SparseActivation.Log1pLog1pRelu ? Math.Log(1 + w) : w;
        }

        return pooled;
    }

    /// <summary>MLM logits [sequence][vocab].</summary>
    public static double[][] Logits(SyntheticWeights w, int[] ids)
    {
        SyntheticModelSpec spec = w.Spec;
        int d = spec.HiddenSize;
        int s = ids.Length;

        var x = new double[s][];
        for (int t = 0; t < s; t++)
        {
            x[t] = new double[d];
            for (int j = 0; j < d; j++)
            {
                x[t][j] = w.WordEmbeddings[(ids[t] * d) + j] + w.PositionEmbeddings[(t * d) + j]
                    + (spec.TakesTokenTypeIds ? w.TokenTypeEmbeddings[j] : 0.0);
            }

            x[t] = LayerNorm(x[t], w.EmbeddingNormScale, w.EmbeddingNormBias);
        }

        foreach (SyntheticLayerWeights layer in w.Layers)
        {
            x = Layer(x, layer, spec);
        }

        var logits = new double[s][];
        for (int t = 0; t < s; t++)
        {
            double[] h = LayerNorm(Gelu(Dense(x[t], w.HeadTransform, w.HeadTransformBias, d)), w.HeadNormScale, w.HeadNormBias);
            logits[t] = new double[spec.VocabularySize];
            for (int v = 0; v < spec.VocabularySize; v++)
            {
                double sum = w.DecoderBias[v];
                for (int j = 0; j < d; j++)
                {
                    sum += h[j] * w.WordEmbeddings[(v * d) + j];
                }

                logits[t][v] = sum;
            }
        }

        return logits;
    }

    private static double[][] Layer(double[][] x, SyntheticLayerWeights w, SyntheticModelSpec spec)
    {
        int d = spec.HiddenSize;
        int s = x.Length;
        int heads = spec.Heads;
        int dh = spec.HeadSize;
        double[][] q = [.. x.Select(r => Dense(r, w.Query, w.QueryBias, d))];
        double[][] k = [.. x.Select(r => Dense(r, w.Key, w.KeyBias, d))];
        double[][] v = [.. x.Select(r => Dense(r, w.Value, w.ValueBias, d))];

        var context = new double[s][];
        for (int t = 0; t < s; t++)
        {
            context[t] = new double[d];
        }

        for (int h = 0; h < heads; h++)
        {
            for (int t = 0; t < s; t++)
            {
                double[] scores = new double[s];
                for (int u = 0; u < s; u++)
                {
                    double dot = 0;
                    for (int j = 0; j < dh; j++)
                    {
                        dot += q[t][(h * dh) + j] * k[u][(h * dh) + j];
                    }

                    scores[u] = dot / Math.Sqrt(dh);
                }

                double max = scores.Max();
                double[] p = [.. scores.Select(z => Math.Exp(z - max))];
                double total = p.Sum();
                for (int u = 0; u < s; u++)
                {
                    for (int j = 0; j < dh; j++)
                    {
                        context[t][(h * dh) + j] += p[u] / total * v[u][(h * dh) + j];
                    }
                }
            }
        }

        var result = new double[s][];
        for (int t = 0; t < s; t++)
        {
            double[] attention = Dense(context[t], w.AttentionOutput, w.AttentionOutputBias, d);
            double[] afterAttention = LayerNorm(Add(x[t], attention), w.AttentionNormScale, w.AttentionNormBias);
            double[] ffn = Dense(Gelu(Dense(afterAttention, w.FeedForwardIn, w.FeedForwardInBias, spec.IntermediateSize)), w.FeedForwardOut, w.FeedForwardOutBias, d);
            result[t] = LayerNorm(Add(afterAttention, ffn), w.OutputNormScale, w.OutputNormBias);
        }

        return result;
    }

    /// <summary>y = x · W + b with W stored [in, out] row-major.</summary>
    private static double[] Dense(double[] x, float[] weight, float[] bias, int outputs)
    {
        double[] y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double sum = bias[o];
            for (int i = 0; i < x.Length; i++)
            {
                sum += x[i] * weight[(i * outputs) + o];
            }

            y[o] = sum;
        }

        return y;
    }

    private static double[] LayerNorm(double[] x, float[] scale, float[] bias)
    {
        double mean = x.Average();
        double variance = x.Select(z => (z - mean) * (z - mean)).Average();
        double inverse = 1.0 / Math.Sqrt(variance + 1e-12);
        return [.. x.Select((z, i) => ((z - mean) * inverse * scale[i]) + bias[i])];
    }

    private static double[] Gelu(double[] x) => [.. x.Select(z => 0.5 * z * (1 + Erf(z / Math.Sqrt(2))))];

    private static double[] Add(double[] a, double[] b) => [.. a.Select((z, i) => z + b[i])];

    /// <summary>erf by Abramowitz–Stegun 7.1.26 (absolute error below 1.5e-7, far inside the 1e-4 parity bound).</summary>
    private static double Erf(double x)
    {
        double sign = Math.Sign(x);
        x = Math.Abs(x);
        double t = 1.0 / (1.0 + (0.3275911 * x));
        double poly = t * (0.254829592 + (t * (-0.284496736 + (t * (1.421413741 + (t * (-1.453152027 + (t * 1.061405429))))))));
        return sign * (1.0 - (poly * Math.Exp(-x * x)));
    }
}
