using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Grpc.Tests.Support;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Bundles.Tests.Support;

/// <summary>
/// Both sides of the air gap on one machine: a real offline-signerd on a fresh SoftHSM2 token, and the offline-signer
/// CLI run as separate processes (each holder's signing session is its own process, as on different days), with PINs
/// passed on a file descriptor, never on the command line.
/// </summary>
internal sealed class Workflow : IDisposable
{
    private readonly TempDir dir;

    public Workflow(SoftHsm hsm)
    {
        Daemon = DaemonProcess.Start(hsm);
        dir = TestEnvironment.CreateTempDir("bundles");
        OnlineKey = System.IO.Path.Combine(dir.Path, "online.pem");
        using var online = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        online.SavePkcs8Pem(OnlineKey);
    }

    public DaemonProcess Daemon { get; }

    public string Dir => dir.Path;

    /// <summary>The online snapshot/timestamp key (PKCS#8 PEM).</summary>
    public string OnlineKey { get; }

    public string Path(string name) => System.IO.Path.Combine(dir.Path, name);

    public string KeyUri(string label) => $"pkcs11:token={Daemon.TokenLabel};object={label}";

    /// <summary>Runs offline-signer with the daemon's socket in the environment.</summary>
    public ProcessResult Cli(params string[] args) => Run(args, null);

    /// <summary>Runs offline-signer with the PIN on standard input (--pin-fd 0).</summary>
    public ProcessResult CliWithPin(params string[] args) => Run([.. args, "--pin-fd", "0"], [.. DaemonProcess.Pin, (byte)'\n']);

    public ProcessResult Ok(params string[] args)
    {
        var r = Cli(args);
        Assert.True(r.ExitCode == 0, $"offline-signer {string.Join(' ', args)}\n{r}");
        return r;
    }

    public ProcessResult OkWithPin(params string[] args)
    {
        var r = CliWithPin(args);
        Assert.True(r.ExitCode == 0, $"offline-signer {string.Join(' ', args)}\n{r}");
        return r;
    }

    public void Generate(params string[] labels)
    {
        foreach (var label in labels)
        {
            OkWithPin("keys", "generate", "--backend", DaemonProcess.Backend, "--label", label);
        }
    }

    /// <summary>The TUF key id (or notary key id) of a key, from `keys list --json`.</summary>
    public string KeyId(string label, bool notary = false)
    {
        using var doc = JsonDocument.Parse(Ok("keys", "list", "--json").StdOut);
        return doc.RootElement.GetProperty("keys").EnumerateArray()
            .First(k => k.GetProperty("label").GetString() == label)
            .GetProperty(notary ? "notary_key_id" : "tuf_key_id").GetString()!;
    }

    /// <summary>A public key file for --add-key, written on the "air-gapped" side.</summary>
    public string PublicKeyFile(string label, string dialect = "tuf")
    {
        var file = Path(label + "." + dialect + ".json");
        Ok("keys", "public", "--key", KeyUri(label), "--dialect", dialect, "--out", file);
        return file;
    }

    public void Sign(string bundle, string label) => OkWithPin("sign", "--bundle", bundle, "--key", KeyUri(label), "--yes", "--signer", label);

    /// <summary>A new TUF repository through the ceremony: root keys, threshold, one targets key; signed by the first threshold holders.</summary>
    public string CreateTufRepository(string repo, string[] rootKeys, int threshold, string targetsKey)
    {
        Generate([.. rootKeys, targetsKey]);
        var bundle = Path("new-" + System.IO.Path.GetFileName(repo));
        Ok("export", "--repo", repo, "--new", "--online-key", OnlineKey, "--out", bundle);
        var init = new List<string> { "ceremony", "init-root", "--bundle", bundle, "--threshold", threshold.ToString(System.Globalization.CultureInfo.InvariantCulture), "--targets-key", KeyUri(targetsKey) };
        foreach (var k in rootKeys)
        {
            init.AddRange(["--root-key", KeyUri(k)]);
        }

        Ok([.. init]);
        foreach (var k in rootKeys.Take(threshold))
        {
            Sign(bundle, k);
        }

        Sign(bundle, targetsKey);
        Ok("import", "--bundle", bundle, "--repo", repo, "--online-key", OnlineKey);
        return bundle;
    }

    /// <summary>A fingerprint of every file under a folder (names, bytes): equal means byte-identical.</summary>
    public static string TreeHash(string folder)
    {
        var sb = new StringBuilder();
        foreach (var f in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            sb.Append(System.IO.Path.GetRelativePath(folder, f)).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))).Append('\n');
        }

        foreach (var d in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            sb.Append(System.IO.Path.GetRelativePath(folder, d)).Append("/\n");
        }

        return sb.ToString();
    }

    /// <summary>Copies a folder (a bundle, to tamper with a copy).</summary>
    public static void CopyTree(string from, string to)
    {
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, d)));
        }

        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(f, System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, f)));
        }
    }

    public void Dispose()
    {
        Daemon.Dispose();
        dir.Dispose();
    }

    private ProcessResult Run(string[] args, byte[]? stdin)
    {
        var env = new Dictionary<string, string?> { ["OFFLINE_SIGNER_SOCKET"] = Daemon.SocketPath };
        return ProcessRunner.Run(
            TestEnvironment.DotnetHost,
            ["exec", System.IO.Path.Combine(AppContext.BaseDirectory, "offline-signer.dll"), .. args],
            TimeSpan.FromMinutes(5),
            env,
            stdin: stdin);
    }
}
