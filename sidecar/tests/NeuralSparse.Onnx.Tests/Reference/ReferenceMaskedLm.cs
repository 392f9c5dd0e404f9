using NeuralSparse.Core.Models;
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

    /// <summary>MLM logits [sequence][vocab], read from the Hugging Face state dict of a BERT or DistilBERT masked-LM.</summary>
    public static double[][] Logits(SyntheticWeights w, int[] ids)
    {
        SyntheticModelSpec spec = w.Spec;
        bool bert = spec.Architecture == SparseModelArchitecture.Bert;
        string model = bert ? "bert." : "distilbert.";
        int d = spec.HiddenSize;
        int s = ids.Length;

        float[] words = w[model + "embeddings.word_embeddings.weight"];
        float[] positions = w[model + "embeddings.position_embeddings.weight"];
        float[]? types = bert ? w["bert.embeddings.token_type_embeddings.weight"] : null;
        var x = new double[s][];
        for (int t = 0; t < s; t++)
        {
            x[t] = new double[d];
            for (int j = 0; j < d; j++)
            {
                x[t][j] = words[(ids[t] * d) + j] + positions[(t * d) + j] + (types is null ? 0.0 : types[j]);
            }

            x[t] = LayerNorm(x[t], w, model + "embeddings.LayerNorm");
        }

        for (int l = 0; l < spec.Layers; l++)
        {
            x = Layer(x, w, spec, bert ? $"bert.encoder.layer.{l}." : $"distilbert.transformer.layer.{l}.", bert);
        }

        string transform = bert ? "cls.predictions.transform.dense" : "vocab_transform";
        string norm = bert ? "cls.predictions.transform.LayerNorm" : "vocab_layer_norm";
        float[] bias = w[bert ? "cls.predictions.bias" : "vocab_projector.bias"];
        var logits = new double[s][];
        for (int t = 0; t < s; t++)
        {
            double[] h = LayerNorm(Gelu(Dense(x[t], w, transform)), w, norm);
            logits[t] = new double[spec.VocabularySize];
            for (int v = 0; v < spec.VocabularySize; v++)
            {
                // The decoder is tied to the word embeddings.
                double sum = bias[v];
                for (int j = 0; j < d; j++)
                {
                    sum += h[j] * words[(v * d) + j];
                }

                logits[t][v] = sum;
            }
        }

        return logits;
    }

    private static double[][] Layer(double[][] x, SyntheticWeights w, SyntheticModelSpec spec, string prefix, bool bert)
    {
        int d = spec.HiddenSize;
        int s = x.Length;
        int heads = spec.Heads;
        int dh = spec.HeadSize;
        double[][] q = [.. x.Select(r => Dense(r, w, prefix + (bert ? "attention.self.query" : "attention.q_lin")))];
        double[][] k = [.. x.Select(r => Dense(r, w, prefix + (bert ? "attention.self.key" : "attention.k_lin")))];
        double[][] v = [.. x.Select(r => Dense(r, w, prefix + (bert ? "attention.self.value" : "attention.v_lin")))];

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
            double[] attention = Dense(context[t], w, prefix + (bert ? "attention.output.dense" : "attention.out_lin"));
            double[] afterAttention = LayerNorm(Add(x[t], attention), w, prefix + (bert ? "attention.output.LayerNorm" : "sa_layer_norm"));
            double[] ffn = Dense(Gelu(Dense(afterAttention, w, prefix + (bert ? "intermediate.dense" : "ffn.lin1"))), w, prefix + (bert ? "output.dense" : "ffn.lin2"));
            result[t] = LayerNorm(Add(afterAttention, ffn), w, prefix + (bert ? "output.LayerNorm" : "output_layer_norm"));
        }

        return result;
    }

    /// <summary>y = x · Wᵀ + b for a PyTorch Linear (weight [out, in] row-major, bias [out]).</summary>
    private static double[] Dense(double[] x, SyntheticWeights w, string name)
    {
        float[] weight = w[name + ".weight"];
        float[] bias = w[name + ".bias"];
        double[] y = new double[bias.Length];
        for (int o = 0; o < y.Length; o++)
        {
            double sum = bias[o];
            for (int i = 0; i < x.Length; i++)
            {
                sum += x[i] * weight[(o * x.Length) + i];
            }

            y[o] = sum;
        }

        return y;
    }

    private static double[] LayerNorm(double[] x, SyntheticWeights w, string name)
    {
        float[] scale = w[name + ".weight"];
        float[] bias = w[name + ".bias"];
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
