using System.Net;
using Microsoft.Extensions.Options;
using NeuralSparse.Sidecar.Configuration;

namespace NeuralSparse.Sidecar.Tests;

/// <summary>The head, quantization, batching-wait and warm-up settings: validated at start, and served end to end.</summary>
public sealed class SpeedOptionsTests
{
    [Fact]
    public void Defaults_ChunkedHead_Float32_NoBatchingWait_BoundedWarmUp_OnnxRuntimeSpinning()
    {
        var options = new SidecarOptions();
        var model = new ModelOptions();

        Assert.Equal((true, true), (model.AllowSpinning, model.SpinBetweenRuns));

        Assert.Equal(("graph-chunks", 512, "none"), (model.Head, model.HeadChunkTokens, model.Quantization));
        Assert.Equal(0, options.Batching.MaxWaitMilliseconds);
        Assert.Equal(30, options.WarmUp.MaxSeconds);
    }

    [Fact]
    public void BadHeadQuantizationAndWarmUpSettings_AreEachReported_NamingTheKey()
    {
        string directory = Path.GetTempPath();
        var options = new SidecarOptions
        {
            Models =
            [
                new ModelOptions { Directory = directory, Head = "chunked", HeadChunkTokens = 0, Quantization = "int4" },
                new ModelOptions { Directory = directory, Device = "cuda", Quantization = "int8" },
            ],
            WarmUp = new WarmUpOptions { MaxSeconds = -1 },
        };

        ValidateOptionsResult result = new SidecarOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                "NeuralSparse:Models:0:Head must be 'graph-chunks', 'host-chunks' or 'fused' (got 'chunked').",
                "NeuralSparse:Models:0:HeadChunkTokens must be between 1 and 65536 (got '0').",
                "NeuralSparse:Models:0:Quantization must be 'none' or 'int8' (got 'int4').",
                "NeuralSparse:Models:1:Quantization 'int8' runs on the CPU only; use Device 'cpu' or Quantization 'none' (got 'int8').",
                "NeuralSparse:WarmUp:MaxSeconds must be between 0 and 3600 (got '-1').",
            ],
            result.Failures);
    }

    [Theory]
    [InlineData("host-chunks", "none")]
    [InlineData("fused", "int8")]
    [InlineData("graph-chunks", "int8")]
    public async Task EveryHeadAndQuantization_ServesRequests_WithWarmUp(string head, string quantization)
    {
        await using SidecarTestHost host = await SidecarTestHost.StartAsync(
            $"--NeuralSparse:Models:0:Head={head}", $"--NeuralSparse:Models:0:Quantization={quantization}", "--NeuralSparse:WarmUp:MaxSeconds=5");

        HttpResponseMessage response = await host.PostJsonAsync("/v1/documents", """["hello world", "the weather in ny"]""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("[{", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
