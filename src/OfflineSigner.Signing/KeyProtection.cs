namespace OfflineSigner.Signing;

/// <summary>
/// What a backend can show about how a private key is protected, as the device reports it.
/// A null property means the device did not say (which a policy treats as "not shown").
/// </summary>
/// <param name="Backend">The backend that read the evidence, for example "pkcs11".</param>
/// <param name="KeyReference">The key's reference (for example an RFC 7512 URI).</param>
/// <param name="GeneratedOnDevice">The key was generated inside the device (PKCS#11 CKA_LOCAL; PIV: attested origin).</param>
/// <param name="Sensitive">The private value cannot be read in plain text (CKA_SENSITIVE).</param>
/// <param name="AlwaysSensitive">The key has been sensitive since it was created (CKA_ALWAYS_SENSITIVE).</param>
/// <param name="Extractable">The key can be exported, even wrapped (CKA_EXTRACTABLE).</param>
/// <param name="NeverExtractable">The key has never been exportable (CKA_NEVER_EXTRACTABLE).</param>
/// <param name="GenerationMechanism">How the key was generated, in the backend's words (for example "CKM_EC_KEY_PAIR_GEN").</param>
public sealed record KeyProtectionEvidence(
    string Backend,
    string KeyReference,
    bool? GeneratedOnDevice,
    bool? Sensitive,
    bool? AlwaysSensitive,
    bool? Extractable,
    bool? NeverExtractable,
    string? GenerationMechanism)
{
    /// <summary>The reasons <paramref name="policy"/> forbids signing with this key; empty when it may sign.</summary>
    public IReadOnlyList<string> Violations(KeyProtectionPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var problems = new List<string>();
        if (!policy.AllowExtractable)
        {
            if (Extractable != false)
            {
                problems.Add(Extractable == true ? "the key is extractable" : "the device does not say whether the key is extractable");
            }
            else if (NeverExtractable != true)
            {
                problems.Add("the key was extractable at some time (never-extractable is not set)");
            }

            if (Sensitive != true)
            {
                problems.Add(Sensitive == false ? "the key is not sensitive (its value can be read)" : "the device does not say whether the key is sensitive");
            }
            else if (AlwaysSensitive != true)
            {
                problems.Add("the key was not sensitive at some time (always-sensitive is not set)");
            }
        }

        if (!policy.AllowNotGeneratedOnDevice && GeneratedOnDevice != true)
        {
            problems.Add(GeneratedOnDevice == false ? "the key was not generated on the device (it was imported)" : "the device does not say where the key was generated");
        }

        return problems;
    }

    /// <summary>A one-line summary for operators.</summary>
    public string Summary() =>
        $"local={Show(GeneratedOnDevice)} sensitive={Show(Sensitive)} always-sensitive={Show(AlwaysSensitive)} "
        + $"extractable={Show(Extractable)} never-extractable={Show(NeverExtractable)} generated-by={GenerationMechanism ?? "unknown"}";

    private static string Show(bool? value) => value switch
    {
        true => "yes",
        false => "no",
        null => "unknown",
    };
}

/// <summary>Which weaker keys an operator explicitly allows. The default allows none.</summary>
/// <param name="AllowExtractable">Sign with keys that are or were extractable or not sensitive.</param>
/// <param name="AllowNotGeneratedOnDevice">Sign with keys that were imported, or whose origin the device does not report.</param>
public sealed record KeyProtectionPolicy(bool AllowExtractable = false, bool AllowNotGeneratedOnDevice = false)
{
    /// <summary>Only keys generated on the device that never could leave it.</summary>
    public static KeyProtectionPolicy Strict { get; } = new();
}

/// <summary>A key's protection does not satisfy the policy: the backend refuses to sign with it.</summary>
public class KeyProtectionException : SigningException
{
    public KeyProtectionException()
    {
        Violations = [];
    }

    public KeyProtectionException(string message)
        : base(message)
    {
        Violations = [];
    }

    public KeyProtectionException(string message, Exception innerException)
        : base(message, innerException)
    {
        Violations = [];
    }

    public KeyProtectionException(KeyProtectionEvidence evidence, IReadOnlyList<string> violations)
        : base($"refusing to sign with {evidence?.KeyReference}: {string.Join("; ", violations ?? [])}")
    {
        Evidence = evidence;
        Violations = violations ?? [];
    }

    /// <summary>The evidence the device gave.</summary>
    public KeyProtectionEvidence? Evidence { get; }

    /// <summary>What the policy forbids.</summary>
    public IReadOnlyList<string> Violations { get; }
}
