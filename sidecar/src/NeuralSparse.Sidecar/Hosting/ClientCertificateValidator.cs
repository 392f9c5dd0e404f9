using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using NeuralSparse.Sidecar.Configuration;

namespace NeuralSparse.Sidecar.Hosting;

/// <summary>
/// Decides whether a client certificate may call the service: it must chain to the trusted CA bundle (read again when
/// the file changes), be within its validity period, and carry an allowed name when a list is configured. Each refusal
/// names its reason, which the caller sends as 401 / UNAUTHENTICATED.
/// </summary>
internal sealed class ClientCertificateValidator
{
    private readonly ReloadingFile<X509Certificate2Collection>? _authorities;
    private readonly HashSet<string> _allowedNames;
    private readonly TimeProvider _time;

    public ClientCertificateValidator(IOptions<SidecarOptions> options, TimeProvider? time = null)
    {
        ClientCertificateOptions settings = options.Value.Listen.ClientCertificates;
        _authorities = settings.TrustedCaPath is { } path ? ClientCertificateFiles.TrustedAuthorities(path) : null;
        _allowedNames = new HashSet<string>(settings.AllowedNames, StringComparer.OrdinalIgnoreCase);
        _time = time ?? TimeProvider.System;
    }

    public bool IsEnabled => _authorities is not null;

    /// <summary>Null when <paramref name="certificate"/> may call; otherwise why not.</summary>
    public string? Refusal(X509Certificate2? certificate)
    {
        if (_authorities is null)
        {
            return null;
        }

        if (certificate is null)
        {
            return "No client certificate was presented; this service requires one issued by its trusted CA (NeuralSparse:Listen:ClientCertificates:TrustedCaPath).";
        }

        DateTime now = _time.GetUtcNow().UtcDateTime;
        if (now > certificate.NotAfter.ToUniversalTime() || now < certificate.NotBefore.ToUniversalTime())
        {
            return $"The client certificate '{certificate.Subject}' is valid from {certificate.NotBefore.ToUniversalTime():u} to {certificate.NotAfter.ToUniversalTime():u}, not now.";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities.Current);
        if (!chain.Build(certificate))
        {
            string status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            return $"The client certificate '{certificate.Subject}' is not issued by a trusted CA ({status}).";
        }

        if (_allowedNames.Count > 0 && !Names(certificate).Any(_allowedNames.Contains))
        {
            return $"The client certificate's names ({string.Join(", ", Names(certificate))}) are not in NeuralSparse:Listen:ClientCertificates:AllowedNames.";
        }

        return null;
    }

    /// <summary>DNS and URI subject alternative names, the common name, and the whole subject.</summary>
    private static IEnumerable<string> Names(X509Certificate2 certificate)
    {
        // .NET reads DNS names from the extension; URIs it does not expose, so they come from its DER.
        foreach (X509SubjectAlternativeNameExtension san in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            foreach (string name in san.EnumerateDnsNames().Concat(UriNames(san.RawData)))
            {
                yield return name;
            }
        }

        if (certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false) is { Length: > 0 } commonName)
        {
            yield return commonName;
        }

        yield return certificate.SubjectName.Decode(X500DistinguishedNameFlags.UseCommas);
    }

    /// <summary>The uniformResourceIdentifier entries ([6] IA5String) of a subjectAltName extension.</summary>
    private static IEnumerable<string> UriNames(byte[] rawData)
    {
        var names = new List<string>();
        var reader = new System.Formats.Asn1.AsnReader(rawData, System.Formats.Asn1.AsnEncodingRules.DER);
        System.Formats.Asn1.AsnReader sequence = reader.ReadSequence();
        var uriTag = new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 6);
        while (sequence.HasData)
        {
            if (sequence.PeekTag().HasSameClassAndValue(uriTag))
            {
                names.Add(sequence.ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, uriTag));
            }
            else
            {
                sequence.ReadEncodedValue();
            }
        }

        return names;
    }
}
