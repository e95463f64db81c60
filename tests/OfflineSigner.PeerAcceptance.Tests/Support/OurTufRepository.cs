using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.PeerAcceptance.Tests.Support;

/// <summary>
/// A TUF specification repository made by our code in a folder laid out as python-tuf does (metadata/ with
/// consistent snapshots, targets/HASH.NAME): root 2 of 3 over mixed key types (Ed25519, ECDSA P-256, RSA 3072),
/// top-level targets delegating <c>releases/*</c> to the role "releases", snapshot and timestamp. Throwaway software keys.
/// </summary>
internal sealed class OurTufRepository : IDisposable
{
    public const string DelegatedRole = "releases";
    public const string TopLevelTarget = "hello.txt";
    public const string DelegatedTarget = "releases/app-1.0.tgz";

    private static readonly KeyAlgorithm[] RootAlgorithms = [KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.Rsa3072];
    private readonly List<SoftwareKeySigner> allSigners = [];

    public OurTufRepository(string dir)
    {
        Dir = dir;
        Now = DateTimeOffset.UtcNow;
        TargetsSigner = NewSigner(KeyAlgorithm.EcdsaP256);
        SnapshotSigner = NewSigner(KeyAlgorithm.Ed25519);
        TimestampSigner = NewSigner(KeyAlgorithm.Ed25519);
        DelegationSigner = NewSigner(KeyAlgorithm.EcdsaP384);
        TargetsKey = KeyOf(TargetsSigner);
        SnapshotKey = KeyOf(SnapshotSigner);
        TimestampKey = KeyOf(TimestampSigner);
        DelegationKey = KeyOf(DelegationSigner);
        foreach (var algorithm in RootAlgorithms)
        {
            var signer = NewSigner(algorithm);
            RootKeys.Add((signer, KeyOf(signer)));
        }
    }

    public string Dir { get; }

    public string MetadataDir => Path.Combine(Dir, "metadata");

    public DateTimeOffset Now { get; }

    public RepositoryState State { get; } = new(Dialect.TufSpecification);

    /// <summary>The newest root's root keys and their signers.</summary>
    public List<(SoftwareKeySigner Signer, Key Key)> RootKeys { get; } = [];

    public SoftwareKeySigner TargetsSigner { get; }

    public Key TargetsKey { get; }

    public SoftwareKeySigner SnapshotSigner { get; }

    public Key SnapshotKey { get; }

    public SoftwareKeySigner TimestampSigner { get; }

    public Key TimestampKey { get; }

    /// <summary>The current key of the delegated role.</summary>
    public SoftwareKeySigner DelegationSigner { get; private set; }

    public Key DelegationKey { get; private set; }

    /// <summary>metadata/N.root.json.</summary>
    public string RootFile(long version) => Path.Combine(MetadataDir, $"{version}.root.json");

    /// <summary>Version 1 of everything, root signed by the root keys at <paramref name="rootSigners"/> (all when null), written to <see cref="Dir"/>.</summary>
    public void Initialize(IEnumerable<int>? rootSigners = null)
    {
        var root = Root.Create(Dialect.TufSpecification, Now.AddDays(365));
        foreach (var (_, key) in RootKeys)
        {
            root.AddKey("root", key);
        }

        root.SetThreshold("root", 2);
        root.AddKey("targets", TargetsKey);
        root.AddKey("snapshot", SnapshotKey);
        root.AddKey("timestamp", TimestampKey);
        var root1 = Metadata<Root>.Create(root);
        foreach (var i in rootSigners ?? Enumerable.Range(0, RootKeys.Count))
        {
            root1.SignWith(RootKeys[i].Signer, RootKeys[i].Key);
        }

        State.Roots.Add(root1);

        var hello = Encoding.UTF8.GetBytes("hello from OfflineSigner\n");
        var app = Encoding.UTF8.GetBytes("release 1.0 of an application\n");
        State.TargetContents[TopLevelTarget] = hello;
        State.TargetContents[DelegatedTarget] = app;
        var targets = Targets.Create(Dialect.TufSpecification, Now.AddDays(180));
        targets.SetTarget(TopLevelTarget, hello.Length, State.TargetHashes(hello));
        targets.AddDelegation(DelegatedRole, [DelegationKey], 1, ["releases/*"]);
        State.Targets = Metadata<Targets>.Create(targets);
        State.Targets.SignWith(TargetsSigner, TargetsKey);

        var releases = Targets.Create(Dialect.TufSpecification, Now.AddDays(90));
        releases.SetTarget(DelegatedTarget, app.Length, State.TargetHashes(app));
        State.Delegated[DelegatedRole] = Metadata<Targets>.Create(releases);
        State.Delegated[DelegatedRole].SignWith(DelegationSigner, DelegationKey);

        RefreshSnapshotAndTimestamp();
        Write();
    }

    /// <summary>
    /// Makes root N+1 (not written): the root keys at <paramref name="replace"/> replaced by new keys of the same
    /// algorithms, the threshold set to <paramref name="threshold"/> when given; signed by the previous root keys at
    /// <paramref name="oldSigners"/> and the new root keys at <paramref name="newSigners"/> (all when null). A key in
    /// both roots signs once. The new keys become <see cref="RootKeys"/>.
    /// </summary>
    public Metadata<Root> RotateRoot(IReadOnlyList<int> replace, int? threshold = null, IEnumerable<int>? oldSigners = null, IEnumerable<int>? newSigners = null)
    {
        var previous = State.Root;
        var old = RootKeys.ToList();
        var signed = Metadata<Root>.Parse(previous.ToBytes()).Signed;
        foreach (var i in replace)
        {
            var signer = NewSigner(RootAlgorithms[i]);
            var key = KeyOf(signer);
            signed.RemoveKey("root", old[i].Key.KeyId);
            signed.AddKey("root", key);
            RootKeys[i] = (signer, key);
        }

        if (threshold is int t)
        {
            signed.SetThreshold("root", t);
        }

        signed.SetVersion(previous.Signed.Version + 1);
        signed.SetExpires(Now.AddDays(365));
        var next = Metadata<Root>.Create(signed);
        foreach (var i in oldSigners ?? Enumerable.Range(0, old.Count))
        {
            next.SignWith(old[i].Signer, old[i].Key);
        }

        foreach (var i in newSigners ?? Enumerable.Range(0, RootKeys.Count))
        {
            next.SignWith(RootKeys[i].Signer, RootKeys[i].Key);
        }

        return next;
    }

    /// <summary>Adds a root made by <see cref="RotateRoot"/> to the repository and writes it.</summary>
    public void Publish(Metadata<Root> root)
    {
        State.Roots.Add(root);
        Write();
    }

    /// <summary>
    /// A delegation key rotation: a new key for "releases" in targets N+1, the delegated role re-signed with it
    /// (one version up, holding also <paramref name="newTarget"/>), then snapshot and timestamp. Written.
    /// </summary>
    public void RotateDelegationKey(string newTarget, byte[] content)
    {
        DelegationSigner = NewSigner(KeyAlgorithm.EcdsaP256);
        DelegationKey = KeyOf(DelegationSigner);
        var targets = Metadata<Targets>.Parse(State.Targets!.ToBytes()).Signed;
        targets.SetDelegationKeys(DelegatedRole, [DelegationKey], 1);
        targets.SetVersion(targets.Version + 1);
        State.Targets = Metadata<Targets>.Create(targets);
        State.Targets.SignWith(TargetsSigner, TargetsKey);

        var releases = Metadata<Targets>.Parse(State.Delegated[DelegatedRole].ToBytes()).Signed;
        releases.SetTarget(newTarget, content.Length, State.TargetHashes(content));
        releases.SetVersion(releases.Version + 1);
        State.TargetContents[newTarget] = content;
        State.Delegated[DelegatedRole] = Metadata<Targets>.Create(releases);
        State.Delegated[DelegatedRole].SignWith(DelegationSigner, DelegationKey);
        RefreshSnapshotAndTimestamp();
        Write();
    }

    /// <summary>A new top-level target: targets, snapshot and timestamp one version up. Written.</summary>
    public void AddTopLevelTarget(string name, byte[] content)
    {
        var targets = Metadata<Targets>.Parse(State.Targets!.ToBytes()).Signed;
        targets.SetTarget(name, content.Length, State.TargetHashes(content));
        targets.SetVersion(targets.Version + 1);
        State.TargetContents[name] = content;
        State.Targets = Metadata<Targets>.Create(targets);
        State.Targets.SignWith(TargetsSigner, TargetsKey);
        RefreshSnapshotAndTimestamp();
        Write();
    }

    /// <summary>The signer of a key this repository made (current or replaced).</summary>
    public SoftwareKeySigner SignerFor(Key key) => allSigners.Single(s => s.PublicKey.Equals(key.PublicKey));

    /// <summary>The SHA-256 of a target's content, lowercase hex.</summary>
    public string TargetSha256(string name) => Convert.ToHexStringLower(SHA256.HashData(State.TargetContents[name]));

    public void Dispose()
    {
        foreach (var s in allSigners)
        {
            s.Dispose();
        }
    }

    private static Key KeyOf(IKeySigner signer) =>
        Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), Dialect.TufSpecification);

    private void RefreshSnapshotAndTimestamp()
    {
        State.RefreshSnapshot(Now.AddDays(30));
        State.Snapshot!.SignWith(SnapshotSigner, SnapshotKey);
        State.RefreshTimestamp(Now.AddDays(7));
        State.Timestamp!.SignWith(TimestampSigner, TimestampKey);
    }

    private void Write() => State.WriteTufDirectory(Dir);

    private SoftwareKeySigner NewSigner(KeyAlgorithm algorithm)
    {
        var s = SoftwareKeySigner.Generate(algorithm);
        allSigners.Add(s);
        return s;
    }
}
