using System.Text;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Cli;

/// <summary>
/// The README's main job: a small repository in each dialect with throwaway software keys, a root rotation,
/// verification of everything, and the summaries an operator would read.
/// </summary>
internal static class Demo
{
    private const string Gun = "example.com/offline-signer/demo";

    public static int Run(string? outDir)
    {
        var dir = outDir ?? Directory.CreateTempSubdirectory("offline-signer-demo-").FullName;
        Directory.CreateDirectory(dir);
        var now = DateTimeOffset.UtcNow;
        Console.WriteLine($"OfflineSigner demo: repositories in {dir}");
        Console.WriteLine("Keys are throwaway software keys; hardware-backed keys are the daemon's job.");
        Console.WriteLine();
        var ok = true;
        foreach (var dialect in new[] { Dialect.TufSpecification, Dialect.Notary })
        {
            ok &= RunDialect(dialect, Path.Combine(dir, dialect == Dialect.Notary ? "notary" : "tuf"), now);
        }

        Console.WriteLine(ok ? "demo finished: every check passed" : "demo finished: SOME CHECKS FAILED");
        return ok ? ExitCodes.Ok : ExitCodes.VerificationFailed;
    }

    private static bool RunDialect(Dialect dialect, string dir, DateTimeOffset now)
    {
        Console.WriteLine($"== {MetadataReader.Describe(dialect)} ==");
        var rootAlgorithms = dialect == Dialect.Notary
            ? new[] { KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384 }
            : [KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.Rsa3072];
        var rootSigners = rootAlgorithms.Select(SoftwareKeySigner.Generate).ToList();
        using var targetsSigner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var snapshotSigner = SoftwareKeySigner.Generate(dialect == Dialect.Notary ? KeyAlgorithm.EcdsaP256 : KeyAlgorithm.Ed25519);
        using var timestampSigner = SoftwareKeySigner.Generate(dialect == Dialect.Notary ? KeyAlgorithm.EcdsaP256 : KeyAlgorithm.Ed25519);
        using var releasesSigner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP384);
        using var newRootSigner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        try
        {
            var rootKeys = rootSigners.Select(s => RootKey(s, dialect)).ToList();
            var targetsKey = PlainKey(targetsSigner, dialect);
            var snapshotKey = PlainKey(snapshotSigner, dialect);
            var timestampKey = PlainKey(timestampSigner, dialect);
            var releasesKey = PlainKey(releasesSigner, dialect);
            var releasesRole = dialect == Dialect.Notary ? "targets/releases" : "releases";

            // Version 1: root (2 of 3), targets with a delegation, the delegated role, snapshot, timestamp.
            var root = Root.Create(dialect, now.AddDays(365));
            foreach (var k in rootKeys)
            {
                root.AddKey("root", k);
            }

            root.SetThreshold("root", 2);
            root.AddKey("targets", targetsKey);
            root.AddKey("snapshot", snapshotKey);
            root.AddKey("timestamp", timestampKey);
            var state = new RepositoryState(dialect);
            var root1 = Metadata<Root>.Create(root);
            root1.SignWith(rootSigners[0], rootKeys[0]);
            root1.SignWith(rootSigners[1], rootKeys[1]);
            state.Roots.Add(root1);

            var hello = Encoding.UTF8.GetBytes("hello from OfflineSigner\n");
            var app = Encoding.UTF8.GetBytes("release 1.0 of an application\n");
            state.TargetContents["hello.txt"] = hello;
            state.TargetContents["releases/app-1.0.tgz"] = app;
            var targets = Targets.Create(dialect, now.AddDays(180));
            targets.SetTarget("hello.txt", hello.Length, state.TargetHashes(hello));
            targets.AddDelegation(releasesRole, [releasesKey], 1, [dialect == Dialect.Notary ? "releases/" : "releases/*"]);
            state.Targets = Metadata<Targets>.Create(targets);
            state.Targets.SignWith(targetsSigner, targetsKey);

            var releases = Targets.Create(dialect, now.AddDays(90));
            releases.SetTarget("releases/app-1.0.tgz", app.Length, state.TargetHashes(app));
            var releasesMd = Metadata<Targets>.Create(releases);
            releasesMd.SignWith(releasesSigner, releasesKey);
            state.Delegated[releasesRole] = releasesMd;

            state.RefreshSnapshot(now.AddDays(7));
            state.Snapshot!.SignWith(snapshotSigner, snapshotKey);
            state.RefreshTimestamp(now.AddDays(1));
            state.Timestamp!.SignWith(timestampSigner, timestampKey);
            Write(state, dir);
            Console.WriteLine($"built version 1 in {dir}");

            // Root rotation: the third root key is replaced; version 2 carries a threshold of old and new root keys.
            var newRootKey = RootKey(newRootSigner, dialect);
            var root2Signed = Metadata<Root>.Parse(root1.ToBytes()).Signed;
            root2Signed.RemoveKey("root", rootKeys[2].KeyId);
            root2Signed.AddKey("root", newRootKey);
            root2Signed.SetVersion(2);
            root2Signed.SetExpires(now.AddDays(365));
            var root2 = Metadata<Root>.Create(root2Signed);
            root2.SignWith(rootSigners[0], rootKeys[0]);
            root2.SignWith(rootSigners[1], rootKeys[1]);
            root2.SignWith(newRootSigner, newRootKey);
            state.Roots.Add(root2);
            if (dialect == Dialect.Notary)
            {
                // Notary's snapshot lists root's hash: a new root needs a new snapshot and timestamp.
                state.RefreshSnapshot(now.AddDays(7));
                state.Snapshot!.SignWith(snapshotSigner, snapshotKey);
                state.RefreshTimestamp(now.AddDays(1));
                state.Timestamp!.SignWith(timestampSigner, timestampKey);
            }

            Write(state, dir);
            Console.WriteLine("rotated root to version 2 (one root key replaced)");
            Console.WriteLine();
            Console.Write(MetadataSummary.DescribeChanges(root1.As<Signed>(), root2.As<Signed>()));
            Console.WriteLine();

            return Verify(state, dir, dialect, now);
        }
        finally
        {
            foreach (var s in rootSigners)
            {
                s.Dispose();
            }
        }
    }

    private static bool Verify(RepositoryState state, string dir, Dialect dialect, DateTimeOffset now)
    {
        // Read back exactly what was written, as a client would.
        var files = new List<(string, byte[])>();
        string metaDir;
        Metadata<Root> trusted;
        if (dialect == Dialect.Notary)
        {
            metaDir = dir;
            trusted = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(dir, "1.root.json")));
            foreach (var name in new[] { "2.root.json", "targets.json", "targets/releases.json", "snapshot.json", "timestamp.json" })
            {
                files.Add((name, File.ReadAllBytes(Path.Combine(dir, name))));
            }
        }
        else
        {
            metaDir = Path.Combine(dir, "metadata");
            trusted = Metadata<Root>.Parse(File.ReadAllBytes(Path.Combine(metaDir, "1.root.json")));
            foreach (var name in new[] { "2.root.json", $"{state.Targets!.Signed.Version}.targets.json", $"{state.Delegated.Values.First().Signed.Version}.releases.json", $"{state.Snapshot!.Signed.Version}.snapshot.json", "timestamp.json" })
            {
                files.Add((name, File.ReadAllBytes(Path.Combine(metaDir, name))));
            }
        }

        var results = RepositoryVerifier.Verify(trusted, files, now, gun: dialect == Dialect.Notary ? Gun : null);
        foreach (var r in results)
        {
            var sig = r.Result is null ? string.Empty : $" signed {r.Result.Signers.Count}/{r.Result.Threshold}";
            Console.WriteLine($"{(r.Verified ? "ok  " : "FAIL")} {r.File}: {r.Role} version {r.Version}{sig}");
            foreach (var e in r.Errors)
            {
                Console.WriteLine("     error: " + e);
            }
        }

        var walk = RootChain.Walk(trusted, state.Roots.Skip(1), now);
        Console.WriteLine($"root chain 1 -> {walk.Final.Signed.Version}: {(walk.Verified ? "verified" : "NOT verified")}");
        Console.WriteLine();
        Console.Write(MetadataSummary.Describe(state.Targets!.As<Signed>(), now));
        Console.WriteLine();
        return walk.Verified && results.All(r => r.Verified);
    }

    private static void Write(RepositoryState state, string dir)
    {
        if (state.Dialect == Dialect.Notary)
        {
            state.WriteNotaryDirectory(dir);
        }
        else
        {
            state.WriteTufDirectory(dir);
        }
    }

    private static Key PlainKey(IKeySigner signer, Dialect dialect) =>
        Key.FromPublicKey(PublicKey.FromSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span), dialect);

    /// <summary>Notary root keys are x509 certificates naming the GUN, signed by the key itself.</summary>
    private static Key RootKey(IKeySigner signer, Dialect dialect) =>
        dialect == Dialect.Notary
            ? Key.FromJson(KeyFormats.EncodeNotaryCertificate(NotaryRootCertificateBuilder.Build(signer, Gun)), dialect)
            : PlainKey(signer, dialect);
}
