using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using NeuralSparse.Sidecar.Configuration;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>
/// Optional API key check: <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>. Keys are compared as
/// SHA-256 digests in constant time, so neither content nor length leaks through timing. Keys are never logged.
/// </summary>
internal sealed class ApiKeyValidator
{
    private readonly byte[][] _digests;

    public ApiKeyValidator(IOptions<SidecarOptions> options) =>
        _digests = [.. options.Value.Auth.ApiKeys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];

    public bool IsEnabled => _digests.Length > 0;

    public bool IsAuthorized(HttpRequest request)
    {
        if (!IsEnabled)
        {
            return true;
        }

        string? presented = request.Headers.Authorization.ToString() is { Length: > 7 } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? header[7..].Trim()
            : request.Headers["X-Api-Key"].ToString();
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        bool match = false;
        foreach (byte[] expected in _digests)
        {
            match |= CryptographicOperations.FixedTimeEquals(digest, expected);
        }

        return match;
    }
}
