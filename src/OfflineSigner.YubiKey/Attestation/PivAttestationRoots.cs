using System.Collections.Frozen;

namespace OfflineSigner.YubiKey.Attestation;

/// <summary>
/// The certificates an attestation may chain to, loaded from a PEM file the operator brings to the machine. Self-signed
/// certificates in it are the trust anchors; others are intermediates a chain may pass through (as Yubico's newer
/// "Yubico Attestation Root 1" hierarchy needs). Pinning: when fingerprints are given, every anchor in the file must be
/// one of them, so a swapped file is refused before it is used.
/// </summary>
public sealed class PivAttestationRoots
{
    /// <summary>
    /// Yubico's published SHA-256 fingerprints of its PIV attestation roots (facts, not certificates): PIV Root CA
    /// Serial 263751 and the older U2F Root CA Serial 457200631.
    /// </summary>
    public static FrozenDictionary<string, string> YubicoPublishedFingerprints { get; } = new Dictionary<string, string>
    {
        ["Yubico PIV Root CA Serial 263751"] = "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546",
        ["Yubico U2F Root CA Serial 457200631"] = "0FA1386F80EB8713263AE5C1D84DEB455BDF08AEA50AB05503CEFEE82B092D42",
    }.ToFrozenDictionary();

    private PivAttestationRoots(IReadOnlyList<CertificateParts> certificates, string source)
    {
        Certificates = certificates;
        Source = source;
    }

    /// <summary>Where the roots came from (a path), for messages.</summary>
    public string Source { get; }

    /// <summary>The SHA-256 fingerprints (uppercase hex) of the trust anchors.</summary>
    public IReadOnlyList<string> AnchorFingerprints => [.. Certificates.Where(c => c.IsSelfIssued).Select(c => c.Fingerprint)];

    internal IReadOnlyList<CertificateParts> Certificates { get; }

    /// <summary>
    /// Reads every CERTIFICATE block of the PEM file <paramref name="path"/>. With <paramref name="pinnedFingerprints"/>
    /// (hex, colons allowed; "yubico" stands for <see cref="YubicoPublishedFingerprints"/>), refuses a file whose anchors
    /// are not all pinned.
    /// </summary>
    /// <exception cref="YubiKeyException">the file is missing, holds no certificate, no self-signed anchor, or an unpinned one.</exception>
    public static PivAttestationRoots Load(string path, IReadOnlyCollection<string>? pinnedFingerprints = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new YubiKeyException($"attestation roots file {path} does not exist");
        }

        return FromPem(File.ReadAllText(path), path, pinnedFingerprints);
    }

    /// <summary>As <see cref="Load"/>, from PEM text.</summary>
    public static PivAttestationRoots FromPem(string pem, string source, IReadOnlyCollection<string>? pinnedFingerprints = null)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var certificates = new List<CertificateParts>();
        var rest = pem.AsSpan();
        while (System.Security.Cryptography.PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                certificates.Add(CertificateParts.Parse(Convert.FromBase64String(rest[fields.Base64Data].ToString())));
            }

            rest = rest[fields.Location.End..];
        }

        if (certificates.Count == 0)
        {
            throw new YubiKeyException($"attestation roots file {source} holds no PEM certificate");
        }

        var anchors = certificates.Where(c => c.IsSelfIssued).ToList();
        if (anchors.Count == 0)
        {
            throw new YubiKeyException($"attestation roots file {source} holds no self-signed root");
        }

        foreach (var anchor in anchors)
        {
            if (!anchor.IsSignedBy(anchor.SubjectPublicKeyInfo))
            {
                throw new YubiKeyException($"root {anchor.Fingerprint} in {source} is not signed by its own key");
            }
        }

        if (pinnedFingerprints is { Count: > 0 })
        {
            var pinned = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in pinnedFingerprints)
            {
                if (string.Equals(entry, "yubico", StringComparison.OrdinalIgnoreCase))
                {
                    pinned.UnionWith(YubicoPublishedFingerprints.Values);
                }
                else
                {
                    pinned.Add(NormalizeFingerprint(entry));
                }
            }

            foreach (var anchor in anchors.Where(a => !pinned.Contains(a.Fingerprint)))
            {
                throw new YubiKeyException($"attestation roots file {source} holds root {anchor.Fingerprint}, which is not among the pinned fingerprints");
            }
        }

        return new PivAttestationRoots(certificates, source);
    }

    /// <summary>Uppercase hex without separators.</summary>
    public static string NormalizeFingerprint(string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var hex = fingerprint.Replace(":", string.Empty, StringComparison.Ordinal).Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        if (hex.Length != 64 || !hex.All(Uri.IsHexDigit))
        {
            throw new FormatException($"'{fingerprint}' is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
        }

        return hex;
    }
}
