using System.Security.Cryptography;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Daemon.Policy;

/// <summary>A signing request as the gate reads it: the documents as bytes, nothing trusted yet.</summary>
public sealed record SigningInput(
    ReadOnlyMemory<byte> Metadata,
    string Role,
    ReadOnlyMemory<byte> TrustedRoot,
    ReadOnlyMemory<byte> Previous,
    ReadOnlyMemory<byte> Delegator,
    string KeyUri,
    string? Gun);

/// <summary>What the gate accepted: the parsed document, the key it will be signed under, and the digest of the signed bytes.</summary>
public sealed record GateDecision(
    Metadata<Signed> Metadata,
    Metadata<Signed>? Previous,
    Key SigningKey,
    byte[] SignedBytes,
    byte[] SignedSha256,
    IReadOnlyList<string> Warnings);

/// <summary>
/// What every item of a batch shares, parsed once for the whole batch: the trusted root and the delegator. Items use
/// it only when they carry exactly these bytes (the same buffer); anything else is parsed as for a single request.
/// </summary>
public sealed class GateContext(ReadOnlyMemory<byte> trustedRoot, ReadOnlyMemory<byte> delegator)
{
    private readonly Lock gate = new();
    private Metadata<Signed>? parsedRoot;
    private IndexedTargets? parsedDelegator;
    private bool delegatorParsed;

    internal Metadata<Signed> TrustedRoot(ReadOnlyMemory<byte> bytes, Func<Metadata<Signed>> parse)
    {
        if (!bytes.Equals(trustedRoot))
        {
            return parse();
        }

        lock (gate)
        {
            return parsedRoot ??= parse();
        }
    }

    /// <summary>Runs <paramref name="use"/> on the parsed delegator, one item at a time (its lookups build lazily).</summary>
    internal T WithDelegator<T>(ReadOnlyMemory<byte> bytes, Func<IndexedTargets?> parse, Func<IndexedTargets?, T> use)
    {
        if (!bytes.Equals(delegator))
        {
            return use(parse());
        }

        lock (gate)
        {
            if (!delegatorParsed)
            {
                parsedDelegator = parse();
                delegatorParsed = true;
            }

            return use(parsedDelegator);
        }
    }
}

/// <summary>
/// "Signing is never blind": every rule a document must pass before a key of this daemon signs it. Each refusal
/// is a <see cref="PolicyViolationException"/> naming the rule.
/// </summary>
public sealed class SigningGate(SigningPolicyOptions options, TimeProvider time)
{
    private static readonly MetadataParseOptions Strict = MetadataParseOptions.Default with { RejectUnsupportedKeys = true };

    /// <summary>Checks <paramref name="input"/> for a key whose public key is <paramref name="signerKey"/>.</summary>
    public GateDecision Evaluate(SigningInput input, PublicKey signerKey) => Evaluate(input, signerKey, null);

    /// <summary>
    /// As <see cref="Evaluate(SigningInput, PublicKey)"/>, with the trusted root and delegator a batch shares parsed
    /// once in <paramref name="context"/>. The rules are the same; only the parsing is shared.
    /// </summary>
    public GateDecision Evaluate(SigningInput input, PublicKey signerKey, GateContext? context)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(signerKey);
        if (string.IsNullOrEmpty(input.Role))
        {
            throw new PolicyViolationException("role", "the request names no role");
        }

        var metadata = Parse(input.Metadata, "metadata", "the document to sign");
        var role = input.Role;
        var expectedType = RoleTypeOf(role);
        if (metadata.Signed.Type != expectedType)
        {
            throw new PolicyViolationException("role-type", $"the document is {metadata.Signed.Type} metadata, but role '{role}' needs {expectedType}");
        }

        var previous = input.Previous.IsEmpty ? null : Parse(input.Previous, "previous", "the previous version");
        var trustedRoot = input.TrustedRoot.IsEmpty ? null
            : context is null ? Parse(input.TrustedRoot, "trusted-root", "the trusted root")
            : context.TrustedRoot(input.TrustedRoot, () => Parse(input.TrustedRoot, "trusted-root", "the trusted root"));
        if (previous is not null && (previous.Signed.Type != metadata.Signed.Type || previous.Dialect != metadata.Dialect))
        {
            throw new PolicyViolationException("previous", $"the previous version is {previous.Signed.Type} in the {previous.Dialect} dialect, not {metadata.Signed.Type} in the {metadata.Dialect} dialect");
        }

        if (trustedRoot is not null && (trustedRoot.Signed.Type != RoleType.Root || trustedRoot.Dialect != metadata.Dialect))
        {
            throw new PolicyViolationException("trusted-root", "the trusted root is not root metadata of the same dialect");
        }

        if (expectedType == RoleType.Root)
        {
            // For a root, the previous trusted root is the previous version (either field may carry it).
            previous ??= trustedRoot;
            trustedRoot ??= previous;
        }

        CheckVersion(role, metadata, previous);
        CheckExpiry(role, metadata);
        var warnings = new List<string>();
        CheckKeysAndThresholds(metadata, warnings);

        Key signingKey = expectedType switch
        {
            RoleType.Root => RootSigningKey(metadata, trustedRoot, signerKey, input.Gun),
            RoleType.Targets when !Root.TopLevelRoles.Contains(role, StringComparer.Ordinal) => DelegatedSigningKey(role, input.Delegator, metadata.Dialect, signerKey, context),
            _ => TopLevelSigningKey(role, trustedRoot, metadata.Dialect, signerKey),
        };

        if (!options.KeyMaySign(input.KeyUri, role))
        {
            throw new PolicyViolationException("key-role-allowed", $"the daemon's configuration does not allow {input.KeyUri} to sign role '{role}'");
        }

        if (!signingKey.KeyIdMatches)
        {
            warnings.Add($"key id {signingKey.KeyId} is not the SHA-256 of its key object ({signingKey.ComputedKeyId})");
        }

        var bytes = metadata.SignedBytes();
        return new GateDecision(metadata, previous, signingKey, bytes, SHA256.HashData(bytes), warnings);
    }

    /// <summary>
    /// The gate for the one non-metadata signature: a notary root certificate. The key must be allowed to sign root
    /// and the validity within the configured maximum; the builder itself checks CN = GUN before returning it.
    /// </summary>
    public void CheckRootCertificate(string keyUri, TimeSpan validity)
    {
        if (!options.KeyMaySign(keyUri, "root"))
        {
            throw new PolicyViolationException("key-role-allowed", $"the daemon's configuration does not allow {keyUri} to sign role 'root'");
        }

        if (validity <= TimeSpan.Zero || validity > options.MaxCertificateValidity)
        {
            throw new PolicyViolationException("certificate-validity", $"a root certificate valid {validity.TotalDays:0.#} days is outside 1..{options.MaxCertificateValidity.TotalDays:0.#} days");
        }
    }

    private static Metadata<Signed> Parse(ReadOnlyMemory<byte> bytes, string rule, string what)
    {
        if (bytes.IsEmpty)
        {
            throw new PolicyViolationException(rule, $"{what} is empty");
        }

        try
        {
            return MetadataReader.Parse(bytes.Span, Strict);
        }
        catch (MetadataException e)
        {
            throw new PolicyViolationException(rule == "metadata" ? "parse" : rule, $"{what} is not acceptable TUF metadata: {e.Message}", e);
        }
    }

    private static RoleType RoleTypeOf(string role) => role switch
    {
        "root" => RoleType.Root,
        "snapshot" => RoleType.Snapshot,
        "timestamp" => RoleType.Timestamp,
        _ => RoleType.Targets,
    };

    private void CheckVersion(string role, Metadata<Signed> metadata, Metadata<Signed>? previous)
    {
        var version = metadata.Signed.Version;
        if (previous is null)
        {
            if (version != 1)
            {
                var rule = metadata.Signed.Type == RoleType.Root ? "previous-root-required" : "previous-required";
                throw new PolicyViolationException(rule, $"version {version} of '{role}' is an update: the previous trusted version must be given");
            }

            return;
        }

        var before = previous.Signed.Version;
        if (version <= before)
        {
            throw new PolicyViolationException("rollback", $"version {version} is not newer than the trusted version {before}");
        }

        var bump = options.MaxVersionBumpFor(role);
        if (version - before > bump)
        {
            throw new PolicyViolationException("version-step", $"version {version} skips versions: the trusted version is {before}, so {before + 1}{(bump > 1 ? $" to {before + bump}" : string.Empty)} is allowed");
        }
    }

    private void CheckExpiry(string role, Metadata<Signed> metadata)
    {
        var now = time.GetUtcNow();
        var expires = metadata.Signed.Expires;
        if (expires <= now)
        {
            throw new PolicyViolationException("expiry-past", $"the document expires {expires:u}, which is not in the future");
        }

        var max = options.MaxExpiryFor(Root.TopLevelRoles.Contains(role, StringComparer.Ordinal) ? role : "delegated");
        if (expires > now + max)
        {
            throw new PolicyViolationException("expiry-max", $"the document expires {expires:u}, beyond the {max.TotalDays:0.#} days allowed for '{role}'");
        }
    }

    private static void CheckKeysAndThresholds(Metadata<Signed> metadata, List<string> warnings)
    {
        switch (metadata.Signed)
        {
            case Root root:
                foreach (var (name, r) in root.Roles)
                {
                    CheckRole(name, r, root.Keys, warnings);
                }

                break;
            case Targets { Delegations: { } delegations }:
                foreach (var r in delegations.Roles ?? [])
                {
                    CheckRole(r.Name, r, delegations.Keys, warnings);
                }

                if (delegations.Succinct is { } succinct)
                {
                    CheckRole("succinct delegation", succinct, delegations.Keys, warnings);
                }

                break;
        }
    }

    private static void CheckRole(string name, Tuf.Role role, IReadOnlyDictionary<string, Key> keys, List<string> warnings)
    {
        if (role.Threshold < 1)
        {
            throw new PolicyViolationException("threshold", $"role '{name}' has threshold {role.Threshold}; it must be at least 1");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        var publicKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in role.KeyIds)
        {
            if (!ids.Add(id))
            {
                throw new PolicyViolationException("duplicate-key", $"role '{name}' lists key {id} twice");
            }

            if (!keys.TryGetValue(id, out var key))
            {
                warnings.Add($"role '{name}' lists key {id}, which the document does not define");
                continue;
            }

            if (key.PublicKey is null)
            {
                warnings.Add($"role '{name}' key {id} is not usable: {key.UnsupportedReason}");
                continue;
            }

            if (!publicKeys.Add(key.PublicKey.Fingerprint))
            {
                throw new PolicyViolationException("duplicate-key", $"role '{name}' lists the same public key twice (key {id} repeats another key id)");
            }
        }

        if (publicKeys.Count < role.Threshold)
        {
            throw new PolicyViolationException("threshold", $"role '{name}' needs {role.Threshold} signatures but has only {publicKeys.Count} distinct usable keys");
        }
    }

    private static Key RootSigningKey(Metadata<Signed> metadata, Metadata<Signed>? trusted, PublicKey signerKey, string? gun)
    {
        var root = (Root)metadata.Signed;
        var key = FindKey(root.RoleKeys("root"), signerKey);
        if (key is null && trusted?.Signed is Root previous)
        {
            // An old root key cross-signs the new root (the rotation needs a threshold of the previous root's keys).
            key = FindKey(previous.RoleKeys("root"), signerKey);
        }

        if (key is null)
        {
            throw new PolicyViolationException("key-not-in-role", "the signing key is a root key neither of the new root nor of the trusted previous root");
        }

        if (root.Dialect == Dialect.Notary)
        {
            if (string.IsNullOrEmpty(gun))
            {
                throw new PolicyViolationException("notary-gun", "a notary root needs the repository's GUN in the request");
            }

            foreach (var rootKey in root.RoleKeys("root"))
            {
                var chain = rootKey.PublicKey?.CertificateChain;
                var leaf = chain is { Count: > 0 } ? chain[0] : throw new PolicyViolationException("notary-root-x509", $"notary root key {rootKey.KeyId} is not an x509 certificate");
                var problems = NotaryRootCertificate.Check(leaf, gun, DateTimeOffset.UtcNow);
                if (problems.Count > 0)
                {
                    throw new PolicyViolationException("notary-root-x509", $"notary root key {rootKey.KeyId}: {string.Join("; ", problems)}");
                }
            }
        }

        return key;
    }

    private static Key TopLevelSigningKey(string role, Metadata<Signed>? trustedRoot, Dialect dialect, PublicKey signerKey)
    {
        if (trustedRoot?.Signed is not Root root)
        {
            throw new PolicyViolationException("trusted-root-required", $"signing '{role}' needs the trusted root that lists its keys");
        }

        if (root.Dialect != dialect)
        {
            throw new PolicyViolationException("dialect", "the trusted root and the document are in different dialects");
        }

        return FindKey(root.RoleKeys(role), signerKey)
            ?? throw new PolicyViolationException("key-not-in-role", $"the signing key is not a '{role}' key of the trusted root");
    }

    private static Key DelegatedSigningKey(string role, ReadOnlyMemory<byte> delegatorBytes, Dialect dialect, PublicKey signerKey, GateContext? context)
    {
        // A delegator can be large (a PEP 458 bins role delegates to 16,384 bins): a targets delegator is read through
        // the index and only the role asked for is built. Anything else is parsed as before, to be refused below.
        IndexedTargets? Read() => delegatorBytes.IsEmpty ? null : ParseIndexedDelegator(delegatorBytes);
        (Tuf.Role Role, IReadOnlyDictionary<string, Key> Keys)? Find(IndexedTargets? indexed)
        {
            if (indexed is null)
            {
                return null;
            }

            if (indexed.DelegationKeys is null || indexed.Dialect != dialect)
            {
                throw new PolicyViolationException("delegator", $"the delegator is not targets metadata of the same dialect with delegations");
            }

            return indexed.TryFindDelegation(role, out var found, out var foundKeys)
                ? (found, foundKeys)
                : throw new PolicyViolationException("delegator", $"the delegator does not delegate to '{role}'");
        }

        var fromIndex = context is null ? Find(Read()) : context.WithDelegator(delegatorBytes, Read, Find);
        Tuf.Role? delegated;
        IReadOnlyDictionary<string, Key>? keys;
        if (fromIndex is { } f)
        {
            (delegated, keys) = f;
        }
        else
        {
            var delegator = Parse(delegatorBytes, "delegator", "the delegating targets metadata");
            if (delegator.Signed is not Targets { Delegations: { } delegations } || delegator.Dialect != dialect)
            {
                throw new PolicyViolationException("delegator", $"the delegator is not targets metadata of the same dialect with delegations");
            }

            delegated = delegations.FindRole(role)
                ?? throw new PolicyViolationException("delegator", $"the delegator does not delegate to '{role}'");
            keys = delegations.Keys;
        }

        var candidates = delegated.KeyIds.Select(id => keys.TryGetValue(id, out var k) ? k : null).OfType<Key>();
        return FindKey(candidates, signerKey)
            ?? throw new PolicyViolationException("key-not-in-role", $"the signing key is not a key the delegator lists for '{role}'");
    }

    private static IndexedTargets? ParseIndexedDelegator(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            return IndexedTargets.ParseIfTargets(bytes, Strict);
        }
        catch (MetadataException e)
        {
            throw new PolicyViolationException("delegator", $"the delegating targets metadata is not acceptable TUF metadata: {e.Message}", e);
        }
    }

    private static Key? FindKey(IEnumerable<Key> keys, PublicKey signerKey) =>
        keys.FirstOrDefault(k => k.PublicKey is not null && string.Equals(k.PublicKey.Fingerprint, signerKey.Fingerprint, StringComparison.Ordinal));
}
