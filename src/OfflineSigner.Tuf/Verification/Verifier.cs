using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Tuf;

/// <summary>
/// Signature threshold checks (TUF specification §5.3-5.6). Thresholds count distinct public keys: a key listed
/// under two key ids, or signing twice, counts once.
/// </summary>
public static class Verifier
{
    /// <summary>Counts the valid signatures on <paramref name="delegate"/> by the keys <paramref name="role"/> authorizes.</summary>
    public static VerificationResult Verify<T>(string roleName, Role role, IReadOnlyDictionary<string, Key> keys, Metadata<T> @delegate)
        where T : Signed
    {
        ArgumentNullException.ThrowIfNull(role);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(@delegate);
        var message = @delegate.SignedBytes();
        return Count(roleName, role, keys, @delegate.Signatures, (key, sig) =>
            SignatureVerifier.Verify(key.PublicKey!, key.Dialect, key.KeyType, key.Scheme, sig.Method, message, sig.Value));
    }

    /// <summary>
    /// Counts the valid signatures on a targets document read through an index (<see cref="IndexedTargets"/>), with
    /// the same verdict as for the same document parsed into <see cref="Metadata{T}"/>: the canonical bytes of
    /// <c>signed</c> are streamed into the hash each key's scheme uses, and held whole only for an Ed25519 key.
    /// </summary>
    public static VerificationResult Verify(string roleName, Role role, IReadOnlyDictionary<string, Key> keys, IndexedTargets @delegate)
    {
        ArgumentNullException.ThrowIfNull(role);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(@delegate);
        var message = @delegate.SignedMessage();
        return Count(roleName, role, keys, @delegate.Signatures, (key, sig) =>
            SignatureVerifier.Verify(key.PublicKey!, key.Dialect, key.KeyType, key.Scheme, sig.Method, message, sig.Value));
    }

    /// <summary>Checks a delegated targets role, read through an index, against the targets role that delegates to it.</summary>
    public static VerificationResult VerifyDelegated(string roleName, Targets delegator, IndexedTargets metadata)
    {
        ArgumentNullException.ThrowIfNull(delegator);
        var role = delegator.Delegations?.FindRole(roleName)
            ?? throw new MetadataException($"the delegating role does not delegate to \"{roleName}\"");
        return Verify(roleName, role, delegator.Delegations!.Keys, metadata);
    }

    private static VerificationResult Count(string roleName, Role role, IReadOnlyDictionary<string, Key> keys, IReadOnlyList<Signature> signatures, Func<Key, Signature, bool> check)
    {
        var signers = new List<Key>();
        var missing = new List<Key>();
        var problems = new List<string>();
        var warnings = new List<string>();
        var counted = new HashSet<string>(StringComparer.Ordinal);
        var byKeyId = signatures.ToDictionary(s => s.KeyId, StringComparer.Ordinal);

        foreach (var keyId in role.KeyIds)
        {
            if (!keys.TryGetValue(keyId, out var key))
            {
                problems.Add($"{roleName} lists key id {keyId}, which is not among the keys");
                continue;
            }

            if (!key.KeyIdMatches)
            {
                warnings.Add($"key id {keyId} does not match its key object (computed {key.ComputedKeyId})");
            }

            if (!byKeyId.TryGetValue(keyId, out var sig))
            {
                missing.Add(key);
                continue;
            }

            if (key.PublicKey is null)
            {
                problems.Add($"signature by {keyId} not counted: {key.UnsupportedReason}");
                missing.Add(key);
                continue;
            }

            bool valid;
            try
            {
                valid = check(key, sig);
            }
            catch (MetadataException e)
            {
                problems.Add($"signature by {keyId} not counted: {e.Message}");
                missing.Add(key);
                continue;
            }

            if (!valid)
            {
                problems.Add($"signature by {keyId} is invalid");
                missing.Add(key);
            }
            else if (!counted.Add(key.Fingerprint))
            {
                problems.Add($"signature by {keyId} not counted again: the same public key already signed under another key id");
            }
            else
            {
                signers.Add(key);
            }
        }

        var ignored = signatures.Where(s => !role.KeyIds.Contains(s.KeyId)).Select(s => s.KeyId).ToList();
        return new VerificationResult(roleName, role.Threshold, signers, missing, problems, warnings, ignored);
    }

    /// <summary>Checks a top-level role's document against a trusted root.</summary>
    public static VerificationResult VerifyTopLevel<T>(Root root, Metadata<T> metadata)
        where T : Signed
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(metadata);
        var name = metadata.Signed.Type.ToString().ToLowerInvariant();
        return Verify(name, root.Roles[name], root.Keys, metadata);
    }

    /// <summary>Checks a delegated targets role against the targets role that delegates to it.</summary>
    public static VerificationResult VerifyDelegated(string roleName, Targets delegator, Metadata<Targets> metadata)
    {
        ArgumentNullException.ThrowIfNull(delegator);
        var role = delegator.Delegations?.FindRole(roleName)
            ?? throw new MetadataException($"the delegating role does not delegate to \"{roleName}\"");
        return Verify(roleName, role, delegator.Delegations!.Keys, metadata);
    }

    /// <summary>Checks root N+1 against trusted root N: version exactly N+1, and thresholds of both (§5.3.4-5).</summary>
    /// <exception cref="BadVersionException">the version is not exactly one more.</exception>
    public static RootVerificationResult VerifyRootUpdate(Metadata<Root> trusted, Metadata<Root> next)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(next);
        if (trusted.Dialect != next.Dialect)
        {
            throw new MetadataException($"root {next.Signed.Version} is {MetadataReader.Describe(next.Dialect)} metadata but the trusted root is {MetadataReader.Describe(trusted.Dialect)}");
        }

        if (next.Signed.Version != trusted.Signed.Version + 1)
        {
            throw new BadVersionException($"expected root version {trusted.Signed.Version + 1}, found {next.Signed.Version}");
        }

        var byTrusted = Verify("root", trusted.Signed.Roles["root"], trusted.Signed.Keys, next);
        var byNew = Verify("root", next.Signed.Roles["root"], next.Signed.Keys, next);
        return new RootVerificationResult(byTrusted, byNew);
    }

    /// <summary>Throws <see cref="UnsignedMetadataException"/> unless the result meets its threshold.</summary>
    public static void ThrowIfNotVerified(VerificationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (!result.Verified)
        {
            var detail = result.Problems.Count > 0 ? ": " + string.Join("; ", result.Problems) : string.Empty;
            throw new UnsignedMetadataException($"{result.Role}: {result.Signers.Count} of {result.Threshold} required signatures{detail}");
        }
    }
}
