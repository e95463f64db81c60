using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using OfflineSigner.Interop.Tests.Fixtures;
using OfflineSigner.Release.Tests.Support;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using Xunit;

namespace OfflineSigner.Release.Tests;

/// <summary>
/// The released .deb in a clean Debian 12 root that has only the packages it declares (no .NET SDK, no runtime, no
/// NuGet): dpkg installs it; the service user, groups and directories exist with their modes; systemd-analyze
/// verifies the installed units; the installed programs print their build; `offline-signerd check` opens a
/// SoftHSM2 token; the installed daemon, run as its service user, generates a key and signs TUF metadata for a
/// real gRPC client (python3-grpcio) and python3-cryptography verifies the signature; an upgrade keeps the
/// configuration and the audit log, and removal and purge keep the audit log and the keys.
/// </summary>
public sealed class InstallTests(ReleaseBuild release)
{
    private const string Config = "/etc/offline-signerd/config.json";
    private const string AuditLog = "/var/lib/offline-signerd/audit.jsonl";
    private const string Socket = "/run/offline-signerd/offline-signerd.sock";
    private const string TokenLabel = "offline-signer";
    private static readonly byte[] UserPin = "472093"u8.ToArray();

    [Fact]
    public void Install_configure_sign_upgrade_remove_and_purge_in_a_clean_Debian_12_root()
    {
        var built = release.Require();
        GrpcPeers.RequirePythonGrpc();
        TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        using var root = DebianRoot.Create(built, built.Deb);

        // Nothing of .NET is in the root: the programs must bring their runtime.
        var bare = root.Shell("command -v dotnet; ls -d /usr/share/dotnet /usr/lib/dotnet /root/.nuget /root/.dotnet 2>/dev/null; true");
        Assert.True(bare.StdOut.Trim().Length == 0, "the Debian root has .NET or NuGet: " + bare.StdOut);

        // --- install ----------------------------------------------------------------------------------------
        File.Copy(built.Deb, root.Host("/tmp/" + built.DebName));
        var install = root.Run(["dpkg", "--install", "/tmp/" + built.DebName]);
        Assert.True(install.ExitCode == 0, "dpkg --install failed:\n" + install);
        Assert.DoesNotContain("warning", install.StdErr, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("install ok installed " + built.Version, Status(root));

        AssertUsersAndDirectories(root);
        AssertInstalledFilesMatchTheManifest(root, built);
        AssertUnitsVerify(root);

        // --- the build, as the installed programs report it -------------------------------------------------
        var digest = Sha256(File.ReadAllBytes(built.Manifest));
        foreach (var program in new[] { "offline-signerd", "offline-signer" })
        {
            var version = root.Run([program, "--version"]);
            Assert.True(version.ExitCode == 0, $"{program} --version:\n{version}");
            Assert.Equal(
                [$"{program} {built.Version}", $"commit {built.Commit}", $"release manifest sha256:{digest} /usr/lib/offline-signer/release-manifest.json"],
                version.StdOut.TrimEnd('\n').Split('\n'));
        }

        // --- configure: a SoftHSM2 token of the service user, the PIN in a file only it reads --------------
        var token = root.Run(["runuser", "-u", "offline-signerd", "--", "softhsm2-util", "--init-token", "--free", "--label", TokenLabel, "--pin", Text(UserPin), "--so-pin", "58302711"]);
        Assert.True(token.ExitCode == 0, "softhsm2-util --init-token:\n" + token);
        File.WriteAllBytes(root.Host("/etc/offline-signerd/user.pin"), [.. UserPin, (byte)'\n']);
        Assert.Equal(0, root.Shell("chown offline-signerd:offline-signerd /etc/offline-signerd/user.pin && chmod 0400 /etc/offline-signerd/user.pin").ExitCode);
        var config = JsonNode.Parse(File.ReadAllText(root.Host(Config)))!;
        Assert.Equal(TokenLabel, (string?)config["backends"]![0]!["token"]!["label"]);
        config["backends"]![0]!["pin"] = new JsonObject { ["file"] = "/etc/offline-signerd/user.pin" };
        File.WriteAllText(root.Host(Config), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var check = AsService(root, ["offline-signerd", "check", "--config", Config]);
        Assert.True(check.ExitCode == 0, "offline-signerd check:\n" + check);
        Assert.Contains($"token present: label '{TokenLabel}'", check.StdOut, StringComparison.Ordinal);
        Assert.Contains("check passed", check.StdOut, StringComparison.Ordinal);

        // --- a full sign through the installed daemon -------------------------------------------------------
        string keyUri;
        using (var daemon = Serve(root))
        {
            keyUri = SignTargets(root, daemon);
            Assert.Equal(0, daemon.Stop());
        }

        var log = File.ReadAllLines(root.Host(AuditLog));
        var started = Assert.Single(log, l => l.Contains("\"daemon_started\"", StringComparison.Ordinal));
        Assert.Contains($"version {built.Version}; commit {built.Commit}; release manifest sha256 {digest}", started, StringComparison.Ordinal);
        Assert.Contains(log, l => l.Contains("\"signed\"", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("\"daemon_stopped\"", StringComparison.Ordinal));

        // The configured key passes the operator check's self-test (sign and verify a challenge on the token).
        config["backends"]![0]!["keys"] = new JsonArray(new JsonObject { ["name"] = "targets-1", ["uri"] = keyUri });
        File.WriteAllText(root.Host(Config), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        var selfTest = AsService(root, ["offline-signerd", "check", "--config", Config, "--self-test"]);
        Assert.True(selfTest.ExitCode == 0, "offline-signerd check --self-test:\n" + selfTest);

        var configured = File.ReadAllBytes(root.Host(Config));

        // --- upgrade: the same programs under a newer package version --------------------------------------
        var next = NextVersion(built, root);
        var upgrade = root.Run(["dpkg", "--install", "/tmp/" + Path.GetFileName(next)]);
        Assert.True(upgrade.ExitCode == 0, "dpkg --install (upgrade) failed:\n" + upgrade);
        Assert.Equal("install ok installed " + built.Version + ".1", Status(root));
        Assert.Equal(configured, File.ReadAllBytes(root.Host(Config)));
        Assert.True(File.Exists(root.Host("/etc/offline-signerd/user.pin")), "the upgrade removed the PIN file");
        Assert.Equal(log, File.ReadAllLines(root.Host(AuditLog)));
        AssertUsersAndDirectories(root);

        // The upgraded daemon continues the same audit chain, and the installed CLI verifies it.
        using (var daemon = Serve(root))
        {
            var health = GrpcPeers.Call(GrpcPeer.Python, "unix://" + root.Host(Socket), GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, "grpc.health.v1.Health/Check");
            Assert.True(health.Ok, health.ToString());
            Assert.Equal(0, daemon.Stop());
        }

        var continued = File.ReadAllLines(root.Host(AuditLog));
        Assert.Equal(log, continued.Take(log.Length));
        Assert.Equal(2, continued.Count(l => l.Contains("\"daemon_started\"", StringComparison.Ordinal)));
        var verified = root.Run(["offline-signer", "audit", "verify", AuditLog]);
        Assert.True(verified.ExitCode == 0, "offline-signer audit verify:\n" + verified);

        // The key generated above, in Debian's SoftHSM2 token directory (SoftHSM2 rewrites the token's files when
        // the daemon logs in, so they are taken once the daemon has stopped).
        var tokens = TokenFiles(root);
        Assert.NotEmpty(tokens);

        // --- removal: programs gone; configuration, audit log and keys stay -------------------------------
        var remove = root.Run(["dpkg", "--remove", "offline-signer"]);
        Assert.True(remove.ExitCode == 0, "dpkg --remove failed:\n" + remove);
        Assert.Equal("deinstall ok config-files " + built.Version + ".1", Status(root));
        Assert.False(File.Exists(root.Host("/usr/lib/offline-signer/offline-signerd")), "the daemon is still installed after removal");
        Assert.False(Directory.Exists(root.Host("/usr/lib/offline-signer")), "/usr/lib/offline-signer is left after removal");
        Assert.Null(new FileInfo(root.Host("/usr/bin/offline-signerd")).LinkTarget);
        Assert.Equal(configured, File.ReadAllBytes(root.Host(Config)));
        Assert.Equal(continued, File.ReadAllLines(root.Host(AuditLog)));
        Assert.Equal(tokens, TokenFiles(root));

        // --- purge: the configuration goes; the audit log and the keys still stay ------------------------
        var purge = root.Run(["dpkg", "--purge", "offline-signer"]);
        Assert.True(purge.ExitCode == 0, "dpkg --purge failed:\n" + purge);
        Assert.False(File.Exists(root.Host(Config)), "config.json is left after purge");
        Assert.Equal(continued, File.ReadAllLines(root.Host(AuditLog)));
        Assert.Equal(tokens, TokenFiles(root));
        Assert.Equal("700 offline-signerd offline-signerd", Stat(root, "/var/lib/offline-signerd"));
        var status = root.Run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "offline-signer"]);
        Assert.NotEqual("ii ", status.StdOut);
    }

    /// <summary>The user, the groups and the directories, with their owners and modes.</summary>
    private static void AssertUsersAndDirectories(DebianRoot root)
    {
        var user = root.Run(["getent", "passwd", "offline-signerd"]);
        Assert.True(user.ExitCode == 0, "no offline-signerd user:\n" + user);
        var fields = user.StdOut.Trim().Split(':');
        Assert.True(int.Parse(fields[2], CultureInfo.InvariantCulture) < 1000, "offline-signerd is not a system user: " + user.StdOut);
        Assert.Equal("/var/lib/offline-signerd", fields[5]);
        Assert.Equal("/usr/sbin/nologin", fields[6]);
        Assert.True(root.Run(["getent", "group", "offline-signer-operators"]).ExitCode == 0, "no offline-signer-operators group");
        var groups = root.Run(["id", "-nG", "offline-signerd"]).StdOut.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("softhsm", groups);
        Assert.DoesNotContain("offline-signer-operators", groups);

        Assert.Equal("700 offline-signerd offline-signerd", Stat(root, "/var/lib/offline-signerd"));
        Assert.Equal("750 root offline-signerd", Stat(root, "/etc/offline-signerd"));
        Assert.Equal("750 offline-signerd offline-signer-operators", Stat(root, "/run/offline-signerd"));
        Assert.Equal("644 root root", Stat(root, Config));
        Assert.Equal("755 root root", Stat(root, "/usr/lib/offline-signer/offline-signerd"));
    }

    /// <summary>What dpkg installed is, file for file, what the manifest lists.</summary>
    private static void AssertInstalledFilesMatchTheManifest(DebianRoot root, BuiltRelease built)
    {
        var manifest = JsonNode.Parse(File.ReadAllBytes(built.Manifest))!;
        var listed = manifest["files"]!.AsArray().Select(f => "/" + (string)f!["path"]!).Append("/usr/lib/offline-signer/release-manifest.json").Order(StringComparer.Ordinal).ToList();
        var owned = root.Run(["dpkg-query", "-L", "offline-signer"]).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !Directory.Exists(root.Host(p)))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(listed, owned);
        foreach (var f in manifest["files"]!.AsArray())
        {
            if (f!["sha256"] is { } sha)
            {
                Assert.True((string?)sha == Sha256(File.ReadAllBytes(root.Host("/" + (string)f["path"]!))), "installed file differs from the manifest: " + (string?)f["path"]);
            }
        }
    }

    /// <summary>systemd-analyze (the root's own, from its systemd package) loads the installed units without a complaint.</summary>
    private static void AssertUnitsVerify(DebianRoot root)
    {
        var verify = root.Run(["systemd-analyze", "verify", "--man=no", "--generators=no",
            "/usr/lib/systemd/system/offline-signerd.service", "/usr/lib/systemd/system/offline-signerd.socket"]);
        Assert.True(verify.ExitCode == 0 && verify.StdErr.Trim().Length == 0, "systemd-analyze verify complains about the installed units:\n" + verify);

        // The same check fails on an installed unit broken in one line, so its pass means something.
        var broken = root.Shell("sed 's|^ExecStart=/usr/bin/offline-signerd |ExecStart=/usr/bin/offline-signerd-missing |' /usr/lib/systemd/system/offline-signerd.service > /tmp/offline-signerd.service && cp /usr/lib/systemd/system/offline-signerd.socket /tmp/ && systemd-analyze verify --man=no --generators=no /tmp/offline-signerd.service /tmp/offline-signerd.socket");
        Assert.False(broken.ExitCode == 0 && broken.StdErr.Trim().Length == 0, "systemd-analyze verify accepts a unit whose program is missing:\n" + broken);
        root.Shell("rm -f /tmp/offline-signerd.service /tmp/offline-signerd.socket");
    }

    /// <summary>The installed daemon as its service user (the unit's User=, Group= and supplementary groups).</summary>
    private static RootProcess Serve(DebianRoot root)
    {
        // At boot, tmpfiles.d creates the socket's directory; a root unpacked from an archive has it already.
        Assert.Equal(0, root.Run(["systemd-tmpfiles", "--create", "offline-signerd.conf"]).ExitCode);
        return root.Start(
            ["setpriv", "--reuid=offline-signerd", "--regid=offline-signerd", "--init-groups", "--inh-caps=-all", "--", "/usr/bin/offline-signerd", "serve", "--config", Config],
            " serving ");
    }

    private static ProcessResult AsService(DebianRoot root, string[] command) =>
        root.Run(["setpriv", "--reuid=offline-signerd", "--regid=offline-signerd", "--init-groups", "--inh-caps=-all", "--", .. command]);

    /// <summary>Generates a key on the token, previews and signs targets metadata under a root that lists it; returns the key's URI.</summary>
    private static string SignTargets(DebianRoot root, RootProcess daemon)
    {
        var target = "unix://" + root.Host(Socket);
        JsonElement Ok(string method, JsonObject request)
        {
            var result = GrpcPeers.Call(GrpcPeer.Python, target, GrpcPeers.ProtoRoot, GrpcPeers.ProjectProtos, method, request.ToJsonString());
            Assert.True(result.Ok, $"{method}: {result.CodeName} {result.Details}\n{result}\ndaemon:\n{daemon.Output}");
            return Assert.Single(result.Responses);
        }

        var generated = Ok("offlinesigner.v1.KeyService/GenerateKey", new JsonObject
        {
            ["backend"] = "softhsm",
            ["token_label"] = TokenLabel,
            ["label"] = "targets-1",
            ["id"] = Convert.ToBase64String([0x01]),
            ["algorithm"] = "KEY_ALGORITHM_ECDSA_P256",
            ["pin"] = Convert.ToBase64String(UserPin),
        }).GetProperty("key");
        var uri = generated.GetProperty("uri").GetString()!;
        var spki = Convert.FromBase64String(generated.GetProperty("subject_public_key_info").GetString()!);
        var key = Key.FromPublicKey(OfflineSigner.Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(spki), Dialect.TufSpecification);

        var trusted = Root.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(300));
        foreach (var role in Root.TopLevelRoles)
        {
            trusted.AddKey(role, key);
        }

        var targets = Targets.Create(Dialect.TufSpecification, DateTimeOffset.UtcNow.AddDays(60));
        targets.SetTarget("release.tar.gz", 1234, new Dictionary<string, string> { ["sha256"] = new string('b', 64) });
        var request = new JsonObject
        {
            ["metadata"] = Convert.ToBase64String(Metadata<Targets>.Create(targets).ToBytes()),
            ["role"] = "targets",
            ["trusted_root"] = Convert.ToBase64String(Metadata<Root>.Create(trusted).ToBytes()),
            ["key_uri"] = uri,
        };
        var preview = Ok("offlinesigner.v1.SigningService/Preview", request);
        var digest = Convert.FromBase64String(preview.GetProperty("signed_sha256").GetString()!);
        Assert.Equal(SHA256.HashData(targets.CanonicalBytes()), digest);

        var signed = Ok("offlinesigner.v1.SigningService/Sign", new JsonObject
        {
            ["request"] = request.DeepClone(),
            ["expected_sha256"] = Convert.ToBase64String(digest),
            ["pin"] = Convert.ToBase64String(UserPin),
        });
        var signature = Convert.FromBase64String(signed.GetProperty("signature").GetString()!);
        Assert.True(PythonCryptography.Verify(spki, "ecdsa-sha256-der", signature, targets.CanonicalBytes()), "python3-cryptography rejects the installed daemon's signature");
        Assert.False(PythonCryptography.Verify(spki, "ecdsa-sha256-der", signature, [.. targets.CanonicalBytes(), (byte)' ']), "python3-cryptography accepts the signature over other bytes");
        return uri;
    }

    /// <summary>The same package under version VERSION.1 (unpacked and rebuilt by dpkg-deb), copied into the root.</summary>
    private static string NextVersion(BuiltRelease built, DebianRoot root)
    {
        using var dir = TestEnvironment.CreateTempDir("next-deb");
        var tree = Path.Combine(dir.Path, "tree");
        Assert.Equal(0, ProcessRunner.Run("dpkg-deb", ["-R", built.Deb, tree]).ExitCode);
        var control = Path.Combine(tree, "DEBIAN", "control");
        File.WriteAllText(control, File.ReadAllText(control).Replace($"Version: {built.Version}\n", $"Version: {built.Version}.1\n", StringComparison.Ordinal));
        var name = $"offline-signer_{built.Version}.1_amd64.deb";
        var output = root.Host("/tmp/" + name);
        var build = ProcessRunner.Run("dpkg-deb", ["--root-owner-group", "-Zxz", "-z1", "--build", tree, output], TimeSpan.FromMinutes(10));
        Assert.True(build.ExitCode == 0, build.ToString());
        return output;
    }

    private static string Status(DebianRoot root)
    {
        var status = root.Run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "offline-signer"]);
        return status.StdOut.Trim();
    }

    private static string Stat(DebianRoot root, string path)
    {
        var stat = root.Run(["stat", "-c", "%a %U %G", path]);
        Assert.True(stat.ExitCode == 0, stat.ToString());
        return stat.StdOut.Trim();
    }

    /// <summary>Every file of Debian's SoftHSM2 token directory with its SHA-256.</summary>
    private static string[] TokenFiles(DebianRoot root) =>
        [.. Directory.EnumerateFiles(root.Host("/var/lib/softhsm/tokens"), "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(root.Path, f) + " " + Sha256(File.ReadAllBytes(f)))];

    private static string Text(byte[] pin) => System.Text.Encoding.ASCII.GetString(pin);

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
