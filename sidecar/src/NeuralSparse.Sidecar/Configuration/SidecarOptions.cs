namespace NeuralSparse.Sidecar.Configuration;

/// <summary>
/// Service configuration, bound from the <c>NeuralSparse</c> section (appsettings.json, environment variables such as
/// <c>NeuralSparse__Models__0__Directory</c>, or command-line <c>--NeuralSparse:Models:0:Directory=...</c>).
/// Validated at start: a wrong value stops start-up with a message naming the key.
/// </summary>
public sealed class SidecarOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "NeuralSparse";

    /// <summary>Models to serve; the first is the default. Empty: a generated demo model (random weights).</summary>
    public List<ModelOptions> Models { get; set; } = [];

    /// <summary>Where to listen.</summary>
    public ListenOptions Listen { get; set; } = new();

    /// <summary>Micro-batching across requests.</summary>
    public BatchingOptions Batching { get; set; } = new();

    /// <summary>Request limits.</summary>
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>API key authentication.</summary>
    public AuthOptions Auth { get; set; } = new();

    /// <summary>
    /// Where graphs built from Hugging Face model folders are kept between starts. Defaults to
    /// <c>$XDG_CACHE_HOME/neural-sparse/graphs</c> (or <c>~/.cache/…</c>), else the temporary folder when that is not
    /// writable (a read-only root filesystem).
    /// </summary>
    public string? GraphCacheDirectory { get; set; }

    /// <summary>Warm-up before readiness.</summary>
    public WarmUpOptions WarmUp { get; set; } = new();
}

/// <summary>One served model.</summary>
public sealed class ModelOptions
{
    /// <summary>
    /// Model directory: a Hugging Face model folder as the hub serves it (config.json, model.safetensors, tokenizer,
    /// idf.json for doc-only models), or a folder with model.onnx and a tokenizer; optional neural-sparse.json. Required.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>Overrides the manifest's name.</summary>
    public string? Name { get; set; }

    /// <summary><c>cpu</c> (default) or <c>cuda</c>.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Fail start-up instead of falling back to CPU when CUDA is unavailable. Defaults to false.</summary>
    public bool RequireDevice { get; set; }

    /// <summary>ONNX Runtime intra-op threads; 0 (default) means one per processor.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Let ONNX Runtime's threads spin while idle (its default). See docs/benchmarks.md for when to turn it off.</summary>
    public bool AllowSpinning { get; set; } = true;

    /// <summary>Let them go on spinning for a while after a run returns (ONNX Runtime's default, true); false stops them at once.</summary>
    public bool SpinBetweenRuns { get; set; } = true;

    /// <summary>Give each of a run's threads a core of its own on CPU (Linux; default true). See docs/sidecar.md.</summary>
    public bool PinThreads { get; set; } = true;

    /// <summary>
    /// Weights of a graph built from a Hugging Face folder: <c>fp32</c> (default) or <c>fp16</c> (float16 weights and
    /// arithmetic, float32 outputs; for CUDA, where it runs on tensor cores).
    /// </summary>
    public string Precision { get; set; } = "fp32";

    /// <summary>Most tokens per text including [CLS]/[SEP]; overrides the manifest and preset (default 512), e.g. 8192 for doc-v3-gte.</summary>
    public int? MaxLength { get; set; }

    /// <summary>
    /// How the masked-LM head runs: <c>graph-chunks</c> (default: in the graph over chunks of tokens, never holding
    /// [tokens × vocabulary] logits), <c>host-chunks</c> (two sessions, max-pooled on the host, padding skipped) or
    /// <c>fused</c> (all logits at once, as before).
    /// </summary>
    public string Head { get; set; } = "graph-chunks";

    /// <summary>Tokens per head chunk. Defaults to 512.</summary>
    public int HeadChunkTokens { get; set; } = 512;

    /// <summary><c>none</c> (default, float32) or <c>int8</c> (opt-in, CPU: int8 weights per column, dynamic activations).</summary>
    public string Quantization { get; set; } = "none";
}

/// <summary>Listening addresses.</summary>
public sealed class ListenOptions
{
    /// <summary>IP address to bind. Defaults to 127.0.0.1 (loopback); use 0.0.0.0 in containers.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>HTTP/1.1 (+ HTTP/2 over TLS) port for the REST API. Defaults to 8080.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>HTTP/2 port for gRPC (cleartext h2c, or TLS). Defaults to 8081.</summary>
    public int GrpcPort { get; set; } = 8081;

    /// <summary>PFX/PKCS#12 certificate; when set, both ports use HTTPS.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Password of <see cref="CertificatePath"/>; prefer an environment variable or secret.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// PEM private key; when set, <see cref="CertificatePath"/> is a PEM certificate (chain) instead of a PFX, as
    /// cert-manager writes them (<c>tls.crt</c>, <c>tls.key</c>). Both files are re-read when they change.
    /// </summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Mutual TLS: which client certificates may call the service (off unless a CA bundle is set).</summary>
    public ClientCertificateOptions ClientCertificates { get; set; } = new();
}

/// <summary>
/// Client certificate validation on both ports. With <see cref="TrustedCaPath"/> set, every call except the health and
/// metrics routes must present a certificate that chains to a CA in the bundle, is within its validity period and,
/// when <see cref="AllowedNames"/> is not empty, carries one of those names; API keys, when configured, are checked
/// as well. The bundle is re-read when its file changes.
/// </summary>
public sealed class ClientCertificateOptions
{
    /// <summary>PEM bundle of the certificate authorities whose client certificates are accepted. Null: no client certificates.</summary>
    public string? TrustedCaPath { get; set; }

    /// <summary>
    /// Accepted names: a DNS or URI subject alternative name, the subject's common name, or the whole subject
    /// (<c>CN=opensearch,O=search</c>). Empty accepts any certificate from a trusted CA.
    /// </summary>
    public List<string> AllowedNames { get; set; } = [];
}

/// <summary>Micro-batching settings.</summary>
public sealed class BatchingOptions
{
    /// <summary>Most texts per model run. Defaults to 32.</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>Most padded tokens per model run. Defaults to 4,096, the fastest on CPU (see docs/benchmarks.md); raise it on a GPU.</summary>
    public int MaxBatchTokens { get; set; } = 4096;

    /// <summary>
    /// Opt-in wait, in milliseconds, for an idle model to collect company before it starts a run. Defaults to 0:
    /// continuous batching (an idle model starts at once; texts arriving during a run form the next one).
    /// </summary>
    public double MaxWaitMilliseconds { get; set; }

    /// <summary>Most texts queued or running per model; more are refused with 429. Defaults to 1,024.</summary>
    public int QueueCapacity { get; set; } = 1024;
}

/// <summary>Warm-up before readiness.</summary>
public sealed class WarmUpOptions
{
    /// <summary>
    /// Time budget of the warm-up, in seconds: runs over each batch-size step up to the batch limits, then requests
    /// over HTTP and gRPC until the JIT compiler is quiet. Defaults to 30. 0: a single short run per model.
    /// </summary>
    public double MaxSeconds { get; set; } = 30;
}

/// <summary>Request limits.</summary>
public sealed class LimitsOptions
{
    /// <summary>Most texts in one request. Defaults to 256.</summary>
    public int MaxTextsPerRequest { get; set; } = 256;

    /// <summary>Most characters in one text; longer texts are refused (tokens beyond the model's maximum are truncated, not refused). Defaults to 100,000.</summary>
    public int MaxCharactersPerText { get; set; } = 100_000;

    /// <summary>Largest request body (HTTP) or message (gRPC), in bytes. Defaults to 16 MiB.</summary>
    public long MaxRequestBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Time limit of one request, in seconds. Defaults to 60.</summary>
    public double RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>On shutdown, how long in-flight requests may take to finish, in seconds. Defaults to 30.</summary>
    public double ShutdownTimeoutSeconds { get; set; } = 30;
}

/// <summary>API key authentication.</summary>
public sealed class AuthOptions
{
    /// <summary>Accepted keys (<c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key</c>); empty disables the check.</summary>
    public List<string> ApiKeys { get; set; } = [];
}
