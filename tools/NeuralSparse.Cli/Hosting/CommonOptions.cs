using System.CommandLine;
using NeuralSparse.Client.Ingest;
using NeuralSparse.Client.Transport;

namespace NeuralSparse.Cli.Hosting;

/// <summary>
/// Options every command takes: the cluster (nodes and the SDK's authentication settings) and the sidecar. Each can
/// also come from a NEURAL_SPARSE_* variable; the command line wins. Secrets are best passed through the variables,
/// which other users cannot read from the process list.
/// </summary>
internal sealed class CommonOptions
{
    public Option<string[]> Cluster { get; } = new("--cluster") { Description = "OpenSearch node URL; repeat for several nodes [env: NEURAL_SPARSE_CLUSTER, comma-separated]", Recursive = true };

    public Option<string> Username { get; } = new("--username") { Description = "basic authentication user [env: NEURAL_SPARSE_USERNAME]", Recursive = true };

    public Option<string> Password { get; } = new("--password") { Description = "basic authentication password [env: NEURAL_SPARSE_PASSWORD]", Recursive = true };

    public Option<string> ApiKey { get; } = new("--api-key") { Description = "OpenSearch API key, instead of basic authentication [env: NEURAL_SPARSE_API_KEY]", Recursive = true };

    public Option<string> CertificateAuthority { get; } = new("--ca-cert") { Description = "PEM file of the certificate authority that signed the cluster's certificates [env: NEURAL_SPARSE_CA_CERT]", Recursive = true };

    public Option<bool> Insecure { get; } = new("--insecure") { Description = "accept any cluster certificate (development clusters only) [env: NEURAL_SPARSE_INSECURE=true]", Recursive = true };

    public Option<string> Sidecar { get; } = new("--sidecar") { Description = "the sidecar's base URL, e.g. http://127.0.0.1:8080 [env: NEURAL_SPARSE_SIDECAR]", Recursive = true };

    public Option<string> SidecarApiKey { get; } = new("--sidecar-api-key") { Description = "API key for the sidecar [env: NEURAL_SPARSE_SIDECAR_API_KEY]", Recursive = true };

    public Option<string> Model { get; } = new("--model") { Description = "the sidecar's model name [env: NEURAL_SPARSE_MODEL]", Recursive = true };

    public IEnumerable<Option> All => [Cluster, Username, Password, ApiKey, CertificateAuthority, Insecure, Sidecar, SidecarApiKey, Model];

    /// <summary>The resolved settings of one run.</summary>
    public Settings Resolve(ParseResult parse, CliHost host)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(host);
        string? Value(Option<string> option, string variable) => parse.GetValue(option) is { Length: > 0 } value ? value : Empty(host.Environment(variable));
        string[] nodes = parse.GetValue(Cluster) is { Length: > 0 } given
            ? given
            : (host.Environment("NEURAL_SPARSE_CLUSTER") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new Settings(
            nodes,
            Value(Username, "NEURAL_SPARSE_USERNAME"),
            Value(Password, "NEURAL_SPARSE_PASSWORD"),
            Value(ApiKey, "NEURAL_SPARSE_API_KEY"),
            Value(CertificateAuthority, "NEURAL_SPARSE_CA_CERT"),
            parse.GetValue(Insecure) || string.Equals(host.Environment("NEURAL_SPARSE_INSECURE"), "true", StringComparison.OrdinalIgnoreCase),
            Value(Sidecar, "NEURAL_SPARSE_SIDECAR"),
            Value(SidecarApiKey, "NEURAL_SPARSE_SIDECAR_API_KEY"),
            Value(Model, "NEURAL_SPARSE_MODEL"));
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>Settings after the command line and the environment are combined.</summary>
    internal sealed record Settings(
        IReadOnlyList<string> Nodes, string? Username, string? Password, string? ApiKey, string? CertificateAuthority, bool Insecure,
        string? SidecarUrl, string? SidecarApiKey, string? Model)
    {
        /// <summary>The SDK's transport to the cluster; the SDK validates the settings and names the one that is wrong.</summary>
        public HttpOpenSearchTransport CreateTransport()
        {
            if (Nodes.Count == 0)
            {
                throw new CliException("No cluster: pass --cluster URL (repeatable) or set NEURAL_SPARSE_CLUSTER.");
            }

            var nodes = new List<Uri>();
            foreach (string node in Nodes)
            {
                nodes.Add(Uri.TryCreate(node, UriKind.Absolute, out Uri? uri) ? uri : throw new CliException($"--cluster '{node}' is not an absolute URL, e.g. https://localhost:9200."));
            }

            try
            {
                return new HttpOpenSearchTransport(new OpenSearchClientOptions
                {
                    Nodes = nodes,
                    Username = Username,
                    Password = Password,
                    ApiKey = ApiKey,
                    CertificateAuthorityPath = CertificateAuthority,
                    SkipCertificateValidation = Insecure,
                });
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ex.Message, ex);
            }
        }

        /// <summary>The model name, or a message saying how to give it.</summary>
        public string RequireModel() => Model ?? throw new CliException("No model: pass --model NAME (the sidecar's model name) or set NEURAL_SPARSE_MODEL.");

        /// <summary>The sidecar encoder for <see cref="Model"/>.</summary>
        public SidecarEncoderClient CreateEncoder(out HttpClient http)
        {
            string model = RequireModel();
            if (SidecarUrl is null)
            {
                throw new CliException("No sidecar: pass --sidecar URL (e.g. http://127.0.0.1:8080) or set NEURAL_SPARSE_SIDECAR.");
            }

            if (!Uri.TryCreate(SidecarUrl.EndsWith('/') ? SidecarUrl : SidecarUrl + "/", UriKind.Absolute, out Uri? baseAddress))
            {
                throw new CliException($"--sidecar '{SidecarUrl}' is not an absolute URL.");
            }

            http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };
            return new SidecarEncoderClient(http, model, SidecarApiKey);
        }
    }
}
