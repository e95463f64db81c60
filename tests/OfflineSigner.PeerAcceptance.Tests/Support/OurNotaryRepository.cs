using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.PeerAcceptance.Tests.Support;

/// <summary>
/// A notary repository made entirely by our code: x509 root keys (certificates CN = GUN made by
/// <see cref="NotaryRootCertificateBuilder"/>), our targets and snapshot keys, and the server's timestamp key as
/// <see cref="NotaryServerClient.GetServerKeyAsync"/> reads it. Keys are throwaway software keys.
/// </summary>
internal sealed class OurNotaryRepository : IDisposable
{
    private readonly List<SoftwareKeySigner> allSigners = [];

    private OurNotaryRepository(string gun, DateTimeOffset now, Key timestampKey)
    {
        Gun = gun;
        Now = now;
        TimestampKey = timestampKey;
        TargetsSigner = NewSigner(KeyAlgorithm.EcdsaP256);
        SnapshotSigner = NewSigner(KeyAlgorithm.EcdsaP256);
        TargetsKey = PlainKey(TargetsSigner);
        SnapshotKey = PlainKey(SnapshotSigner);
    }

    public string Gun { get; }

    public DateTimeOffset Now { get; }

    public RepositoryState State { get; } = new(Dialect.Notary);

    /// <summary>The root keys of the newest root, with their signers, in the order they were listed.</summary>
    public List<(SoftwareKeySigner Signer, Key Key)> RootKeys { get; } = [];

    public SoftwareKeySigner TargetsSigner { get; }

    public Key TargetsKey { get; }

    public SoftwareKeySigner SnapshotSigner { get; }

    public Key SnapshotKey { get; }

    public Key TimestampKey { get; }

    /// <summary>Our timestamp key's signer, or null when the server holds the timestamp key.</summary>
    public SoftwareKeySigner? TimestampSigner { get; private init; }

    /// <summary>The role that lists each target (top-level "targets" unless delegated).</summary>
    public SortedDictionary<string, string> TargetRoles { get; } = new(StringComparer.Ordinal);

    /// <summary>The key of each delegated role, with its signer.</summary>
    public Dictionary<string, (SoftwareKeySigner Signer, Key Key)> DelegationKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Root version 1 with <paramref name="rootKeyCount"/> root keys and threshold <paramref name="rootThreshold"/>,
    /// signed by the root keys at <paramref name="signWith"/> (every root key when null); targets holding <paramref name="targets"/>; a snapshot over both. Nothing is published.
    /// </summary>
    public static async Task<OurNotaryRepository> CreateAsync(
        NotaryServerClient client,
        IReadOnlyDictionary<string, string> targets,
        int rootKeyCount = 1,
        int rootThreshold = 1,
        IEnumerable<int>? signWith = null,
        CancellationToken cancellationToken = default)
    {
        var timestampKey = await client.GetServerKeyAsync("timestamp", cancellationToken);
        return Create(client.Gun, timestampKey, null, targets, rootKeyCount, rootThreshold, signWith);
    }

    /// <summary>
    /// The same repository with a timestamp key of our own, for a server that holds no keys (see
    /// <see cref="StaticNotaryServer"/>): the timestamp is made by <see cref="RefreshSnapshot"/> too.
    /// </summary>
    public static OurNotaryRepository CreateWithOwnTimestampKey(
        string gun,
        IReadOnlyDictionary<string, string> targets,
        int rootKeyCount = 1,
        int rootThreshold = 1)
    {
        var timestampSigner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        var repo = Create(gun, PlainKey(timestampSigner), timestampSigner, targets, rootKeyCount, rootThreshold, null);
        repo.allSigners.Add(timestampSigner);
        return repo;
    }

    private static OurNotaryRepository Create(
        string gun,
        Key timestampKey,
        SoftwareKeySigner? timestampSigner,
        IReadOnlyDictionary<string, string> targets,
        int rootKeyCount,
        int rootThreshold,
        IEnumerable<int>? signWith)
    {
        var repo = new OurNotaryRepository(gun, DateTimeOffset.UtcNow, timestampKey) { TimestampSigner = timestampSigner };
        var root = Root.Create(Dialect.Notary, repo.Now.AddDays(365), consistentSnapshot: false);
        for (var i = 0; i < rootKeyCount; i++)
        {
            var signer = repo.NewSigner(i % 2 == 0 ? KeyAlgorithm.EcdsaP256 : KeyAlgorithm.EcdsaP384);
            var key = repo.RootKey(signer);
            repo.RootKeys.Add((signer, key));
            root.AddKey("root", key);
        }

        root.SetThreshold("root", rootThreshold);
        root.AddKey("targets", repo.TargetsKey);
        root.AddKey("snapshot", repo.SnapshotKey);
        root.AddKey("timestamp", timestampKey);
        var root1 = Metadata<Root>.Create(root);
        foreach (var i in signWith ?? Enumerable.Range(0, rootKeyCount))
        {
            root1.SignWith(repo.RootKeys[i].Signer, repo.RootKeys[i].Key);
        }

        repo.State.Roots.Add(root1);

        var t = Tuf.Targets.Create(Dialect.Notary, repo.Now.AddDays(180));
        foreach (var (name, content) in targets)
        {
            var bytes = Encoding.UTF8.GetBytes(content);
            repo.State.TargetContents[name] = bytes;
            repo.TargetRoles[name] = "targets";
            t.SetTarget(name, bytes.Length, repo.State.TargetHashes(bytes));
        }

        repo.State.Targets = Metadata<Targets>.Create(t);
        repo.State.Targets.SignWith(repo.TargetsSigner, repo.TargetsKey);
        repo.RefreshSnapshot();
        return repo;
    }

    /// <summary>What the first publish sends: root, targets and snapshot (the server makes the timestamp).</summary>
    public IReadOnlyList<(string Role, byte[] Bytes)> InitialFiles() =>
    [
        ("root", RepositoryState.FileBytes(State.Root)),
        ("targets", RepositoryState.FileBytes(State.Targets!)),
        ("snapshot", RepositoryState.FileBytes(State.Snapshot!)),
    ];

    /// <summary>
    /// Root version N+1 with the root key at <paramref name="replaceIndex"/> replaced by a new one, signed by the
    /// previous root keys at <paramref name="oldSigners"/> (all of them when null) and by the new root's keys at
    /// <paramref name="newSigners"/> (all of them when null). A key in both roots signs once: one signature counts for both.
    /// It becomes the newest root of <see cref="State"/>, followed by a new snapshot (notary's snapshot lists root's hash).
    /// </summary>
    public Metadata<Root> RotateRoot(int replaceIndex, IEnumerable<int>? oldSigners = null, IEnumerable<int>? newSigners = null)
    {
        var previous = State.Root;
        var old = RootKeys.ToList();
        var signed = Metadata<Root>.Parse(previous.ToBytes()).Signed;
        var newSigner = NewSigner(KeyAlgorithm.EcdsaP256);
        var newKey = RootKey(newSigner);
        signed.RemoveKey("root", old[replaceIndex].Key.KeyId);
        signed.AddKey("root", newKey);
        signed.SetVersion(previous.Signed.Version + 1);
        signed.SetExpires(Now.AddDays(365));
        var next = Metadata<Root>.Create(signed);
        foreach (var i in oldSigners ?? Enumerable.Range(0, old.Count))
        {
            next.SignWith(old[i].Signer, old[i].Key);
        }

        RootKeys[replaceIndex] = (newSigner, newKey);
        foreach (var i in newSigners ?? Enumerable.Range(0, RootKeys.Count))
        {
            next.SignWith(RootKeys[i].Signer, RootKeys[i].Key);
        }

        State.Roots.Add(next);
        RefreshSnapshot();
        return next;
    }

    /// <summary>
    /// A new delegation <paramref name="role"/> (<c>targets/NAME</c>) for the paths under <paramref name="pathPrefix"/>,
    /// its key an x509 certificate as <c>notary delegation add</c> takes; targets one version up, the delegated role
    /// (version 1) holding <paramref name="target"/>, and a new snapshot. Publish with <see cref="TargetsFiles"/>.
    /// </summary>
    public void AddDelegation(string role, string pathPrefix, string target, string content)
    {
        var (signer, key) = NewDelegationKey(role);
        var targets = Metadata<Targets>.Parse(State.Targets!.ToBytes()).Signed;
        targets.AddDelegation(role, [key], 1, [pathPrefix]);
        targets.SetVersion(targets.Version + 1);
        State.Targets = Metadata<Targets>.Create(targets);
        State.Targets.SignWith(TargetsSigner, TargetsKey);

        var delegated = Tuf.Targets.Create(Dialect.Notary, Now.AddDays(90));
        var bytes = Encoding.UTF8.GetBytes(content);
        delegated.SetTarget(target, bytes.Length, State.TargetHashes(bytes));
        State.TargetContents[target] = bytes;
        TargetRoles[target] = role;
        State.Delegated[role] = Metadata<Targets>.Create(delegated);
        State.Delegated[role].SignWith(signer, key);
        RefreshSnapshot();
    }

    /// <summary>
    /// A delegation key rotation: targets one version up listing a new key for <paramref name="role"/>, the delegated
    /// role one version up with <paramref name="newTarget"/> added and signed by the new key only, and a new snapshot.
    /// </summary>
    public void RotateDelegationKey(string role, string newTarget, string content)
    {
        var (signer, key) = NewDelegationKey(role);
        var targets = Metadata<Targets>.Parse(State.Targets!.ToBytes()).Signed;
        targets.SetDelegationKeys(role, [key], 1);
        targets.SetVersion(targets.Version + 1);
        State.Targets = Metadata<Targets>.Create(targets);
        State.Targets.SignWith(TargetsSigner, TargetsKey);

        var delegated = Metadata<Targets>.Parse(State.Delegated[role].ToBytes()).Signed;
        var bytes = Encoding.UTF8.GetBytes(content);
        delegated.SetTarget(newTarget, bytes.Length, State.TargetHashes(bytes));
        delegated.SetVersion(delegated.Version + 1);
        State.TargetContents[newTarget] = bytes;
        TargetRoles[newTarget] = role;
        State.Delegated[role] = Metadata<Targets>.Create(delegated);
        State.Delegated[role].SignWith(signer, key);
        RefreshSnapshot();
    }

    /// <summary>What publishing targets changes sends: targets, every delegated role, and the snapshot.</summary>
    public IReadOnlyList<(string Role, byte[] Bytes)> TargetsFiles() =>
    [
        ("targets", RepositoryState.FileBytes(State.Targets!)),
        .. State.Delegated.Select(d => (d.Key, RepositoryState.FileBytes(d.Value))),
        ("snapshot", RepositoryState.FileBytes(State.Snapshot!)),
    ];

    /// <summary>A new snapshot version over the current root and targets bytes, signed by our snapshot key (and a new timestamp when the key is ours).</summary>
    public void RefreshSnapshot()
    {
        State.RefreshSnapshot(Now.AddDays(30));
        State.Snapshot!.SignWith(SnapshotSigner, SnapshotKey);
        if (TimestampSigner is not null)
        {
            State.RefreshTimestamp(Now.AddDays(7));
            State.Timestamp!.SignWith(TimestampSigner, TimestampKey);
        }
    }

    /// <summary>What publishing the newest root sends: root and the snapshot that lists it.</summary>
    public IReadOnlyList<(string Role, byte[] Bytes)> RootFiles() =>
        [("root", RepositoryState.FileBytes(State.Root)), ("snapshot", RepositoryState.FileBytes(State.Snapshot!))];

    /// <summary>The SHA-256 of a target's content, lowercase hex (what <c>notary list</c> prints).</summary>
    public string TargetSha256(string name) => Convert.ToHexStringLower(SHA256.HashData(State.TargetContents[name]));

    public void Dispose()
    {
        foreach (var s in allSigners)
        {
            s.Dispose();
        }
    }

    private static Key PlainKey(IKeySigner signer) =>
        Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), Dialect.Notary);

    private Key RootKey(IKeySigner signer) =>
        Key.FromJson(KeyFormats.EncodeNotaryCertificate(NotaryRootCertificateBuilder.Build(signer, Gun)), Dialect.Notary);

    private (SoftwareKeySigner Signer, Key Key) NewDelegationKey(string role)
    {
        var signer = NewSigner(KeyAlgorithm.EcdsaP256);
        var key = Key.FromJson(KeyFormats.EncodeNotaryCertificate(NotaryRootCertificateBuilder.Build(signer, role)), Dialect.Notary);
        DelegationKeys[role] = (signer, key);
        return (signer, key);
    }

    private SoftwareKeySigner NewSigner(KeyAlgorithm algorithm)
    {
        var s = SoftwareKeySigner.Generate(algorithm);
        allSigners.Add(s);
        return s;
    }
}
