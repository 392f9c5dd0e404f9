using System.Globalization;
using Microsoft.Extensions.Options;

namespace NeuralSparse.Sidecar.Configuration;

/// <summary>Checks every setting and reports all problems at once, each naming its configuration key.</summary>
internal sealed class SidecarOptionsValidator : IValidateOptions<SidecarOptions>
{
    public ValidateOptionsResult Validate(string? name, SidecarOptions options)
    {
        var errors = new List<string>();
        void Check(bool ok, string key, string rule, object? value)
        {
            if (!ok)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"NeuralSparse:{key} {rule} (got '{value}')."));
            }
        }

        for (int i = 0; i < options.Models.Count; i++)
        {
            ModelOptions model = options.Models[i];
            Check(!string.IsNullOrWhiteSpace(model.Directory), $"Models:{i}:Directory", "must name a model directory", model.Directory);
            Check(string.IsNullOrWhiteSpace(model.Directory) || Directory.Exists(model.Directory), $"Models:{i}:Directory", "must be an existing directory", model.Directory);
            Check(model.Device is "cpu" or "cuda", $"Models:{i}:Device", "must be 'cpu' or 'cuda'", model.Device);
            Check(model.IntraOpThreads is >= 0 and <= 1024, $"Models:{i}:IntraOpThreads", "must be between 0 (one per processor) and 1024", model.IntraOpThreads);
            Check(model.Precision is "fp32" or "fp16", $"Models:{i}:Precision", "must be 'fp32' or 'fp16'", model.Precision);
            Check(model.MaxLength is null or >= 2, $"Models:{i}:MaxLength", "must be at least 2 ([CLS] and [SEP])", model.MaxLength);
            Check(model.Head is "graph-chunks" or "host-chunks" or "fused", $"Models:{i}:Head", "must be 'graph-chunks', 'host-chunks' or 'fused'", model.Head);
            Check(model.HeadChunkTokens is >= 1 and <= 65_536, $"Models:{i}:HeadChunkTokens", "must be between 1 and 65536", model.HeadChunkTokens);
            Check(model.Quantization is "none" or "int8", $"Models:{i}:Quantization", "must be 'none' or 'int8'", model.Quantization);
            Check(model.Quantization != "int8" || model.Device == "cpu", $"Models:{i}:Quantization", "'int8' runs on the CPU only; use Device 'cpu' or Quantization 'none'", model.Quantization);
        }

        Check(System.Net.IPAddress.TryParse(options.Listen.Address, out _), "Listen:Address", "must be an IP address such as 127.0.0.1 or 0.0.0.0", options.Listen.Address);
        Check(options.Listen.HttpPort is > 0 and <= 65535, "Listen:HttpPort", "must be a port between 1 and 65535", options.Listen.HttpPort);
        Check(options.Listen.GrpcPort is > 0 and <= 65535, "Listen:GrpcPort", "must be a port between 1 and 65535", options.Listen.GrpcPort);
        Check(options.Listen.HttpPort != options.Listen.GrpcPort, "Listen:GrpcPort", "must differ from Listen:HttpPort (gRPC needs an HTTP/2-only port)", options.Listen.GrpcPort);
        Check(options.Listen.CertificatePath is null || File.Exists(options.Listen.CertificatePath), "Listen:CertificatePath", "must be an existing PFX file (or PEM with Listen:CertificateKeyPath)", options.Listen.CertificatePath);
        Check(options.Listen.CertificateKeyPath is null || (options.Listen.CertificatePath is not null && File.Exists(options.Listen.CertificateKeyPath)),
            "Listen:CertificateKeyPath", "must be an existing PEM key file, with Listen:CertificatePath", options.Listen.CertificateKeyPath);
        string? caPath = options.Listen.ClientCertificates.TrustedCaPath;
        Check(caPath is null || options.Listen.CertificatePath is not null, "Listen:ClientCertificates:TrustedCaPath", "needs TLS: set Listen:CertificatePath too", caPath);
        Check(caPath is null || File.Exists(caPath), "Listen:ClientCertificates:TrustedCaPath", "must be an existing PEM file of CA certificates", caPath);

        Check(options.Batching.MaxBatchSize is >= 1 and <= 4096, "Batching:MaxBatchSize", "must be between 1 and 4096", options.Batching.MaxBatchSize);
        Check(options.Batching.MaxBatchTokens is >= 1 and <= 1_048_576, "Batching:MaxBatchTokens", "must be between 1 and 1048576", options.Batching.MaxBatchTokens);
        Check(options.Batching.MaxWaitMilliseconds is >= 0 and <= 1000, "Batching:MaxWaitMilliseconds", "must be between 0 and 1000", options.Batching.MaxWaitMilliseconds);
        Check(options.Batching.QueueCapacity >= 1, "Batching:QueueCapacity", "must be at least 1", options.Batching.QueueCapacity);

        Check(options.WarmUp.MaxSeconds is >= 0 and <= 3600, "WarmUp:MaxSeconds", "must be between 0 and 3600", options.WarmUp.MaxSeconds);

        Check(options.Limits.MaxTextsPerRequest >= 1, "Limits:MaxTextsPerRequest", "must be at least 1", options.Limits.MaxTextsPerRequest);
        Check(options.Limits.MaxTextsPerRequest <= options.Batching.QueueCapacity, "Limits:MaxTextsPerRequest", "must not exceed Batching:QueueCapacity, or such a request could never be admitted", options.Limits.MaxTextsPerRequest);
        Check(options.Limits.MaxCharactersPerText >= 1, "Limits:MaxCharactersPerText", "must be at least 1", options.Limits.MaxCharactersPerText);
        Check(options.Limits.MaxRequestBytes is >= 1024 and <= int.MaxValue, "Limits:MaxRequestBytes", "must be between 1024 and 2147483647", options.Limits.MaxRequestBytes);
        Check(options.Limits.RequestTimeoutSeconds > 0, "Limits:RequestTimeoutSeconds", "must be positive", options.Limits.RequestTimeoutSeconds);
        Check(options.Limits.ShutdownTimeoutSeconds >= 0, "Limits:ShutdownTimeoutSeconds", "must not be negative", options.Limits.ShutdownTimeoutSeconds);

        // The key values themselves are never echoed: configuration errors end up in logs.
        for (int i = 0; i < options.Auth.ApiKeys.Count; i++)
        {
            if (options.Auth.ApiKeys[i] is not { Length: >= 16 })
            {
                errors.Add($"NeuralSparse:Auth:ApiKeys:{i} must be at least 16 characters long.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
