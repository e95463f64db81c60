using System.Text.Json;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// The reference implementation of canonical JSON and TUF signature checks: Debian's python3-securesystemslib,
/// driven through tests/peers/canonical.py and tests/peers/sslib_verify.py. Every method skips the test when
/// /usr/bin/python3 or securesystemslib is missing.
/// </summary>
internal static class Securesystemslib
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>Runs canonical.py on a document given as bytes (through stdin); the raw result.</summary>
    public static ProcessResult TryCanonical(byte[] json, bool signedOnly = false)
    {
        var python = Peers.RequireSecuresystemslib();
        var args = new List<string> { Peers.Script("canonical.py") };
        if (signedOnly)
        {
            args.Add("--signed");
        }

        args.Add("-");
        return ProcessRunner.Run(python, args, Timeout, stdin: json);
    }

    /// <summary>
    /// securesystemslib's <c>encode_canonical</c> of a document, as bytes (the whole document, or its "signed"
    /// member). Throws <see cref="PeerToolException"/> when securesystemslib refuses the document.
    /// </summary>
    public static byte[] Canonical(byte[] json, bool signedOnly = false)
    {
        var python = Peers.RequireSecuresystemslib();
        var args = new List<string> { Peers.Script("canonical.py") };
        if (signedOnly)
        {
            args.Add("--signed");
        }

        args.Add("-");
        var (exitCode, stdout, stderr) = RunBinary(python, args, json);
        if (exitCode != 0)
        {
            throw new PeerToolException($"canonical.py refused the document (exit {exitCode}): {stderr.Trim()}");
        }

        return stdout;
    }

    /// <summary>
    /// The hex SHA-256 of the canonical bytes of each file, in order, computed by one python process.
    /// An entry starting with "!" is securesystemslib's error for that file.
    /// </summary>
    public static IReadOnlyList<string> CanonicalSha256(IReadOnlyCollection<string> files, bool signedOnly = false)
    {
        var python = Peers.RequireSecuresystemslib();
        var args = new List<string> { Peers.Script("canonical.py"), "--sha256" };
        if (signedOnly)
        {
            args.Add("--signed");
        }

        args.AddRange(files);
        var result = ProcessRunner.Run(python, args, Timeout);
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length != files.Count || result.ExitCode is not (0 or 1))
        {
            throw new PeerToolException($"canonical.py --sha256 gave {lines.Length} lines for {files.Count} files\n{result}");
        }

        return lines;
    }

    /// <summary>Checks the signature of one key (a TUF key object in <paramref name="keyFile"/>) on a metadata file.</summary>
    public static SslibVerifyResult VerifyWithKey(string keyFile, string metadataFile, string? keyId = null)
    {
        var args = new List<string> { "--key", keyFile };
        if (keyId is not null)
        {
            args.AddRange(["--keyid", keyId]);
        }

        args.Add(metadataFile);
        return Verify(args);
    }

    /// <summary>Counts the valid signatures of <paramref name="role"/>'s keys (as listed in a root) on a metadata file.</summary>
    public static SslibVerifyResult VerifyWithRoot(string rootFile, string role, string metadataFile) =>
        Verify(["--root", rootFile, "--role", role, metadataFile]);

    private static SslibVerifyResult Verify(List<string> args)
    {
        var python = Peers.RequireSecuresystemslib();
        args.Insert(0, Peers.Script("sslib_verify.py"));
        var result = ProcessRunner.Run(python, args, Timeout);
        if (result.ExitCode is not (0 or 1))
        {
            throw new PeerToolException("sslib_verify.py failed to run\n" + result);
        }

        using var doc = JsonDocument.Parse(result.StdOut);
        var root = doc.RootElement;
        return new SslibVerifyResult(
            root.GetProperty("ok").GetBoolean(),
            [.. root.GetProperty("valid").EnumerateArray().Select(e => e.GetString()!)],
            [.. root.GetProperty("invalid").EnumerateArray().Select(e => e.GetString()!)],
            root.GetProperty("threshold").GetInt32(),
            root.GetProperty("error").ValueKind == JsonValueKind.Null ? null : root.GetProperty("error").GetString(),
            result);
    }

    // ProcessRunner reads stdout as text; canonical bytes must come back untouched, so read them raw here.
    private static (int ExitCode, byte[] StdOut, string StdErr) RunBinary(string fileName, IEnumerable<string> arguments, byte[] stdin)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi) ?? throw new PeerToolException("cannot start " + fileName);
        using var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(Timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException(fileName + " did not finish in time");
        }

        copy.GetAwaiter().GetResult();
        return (p.ExitCode, stdout.ToArray(), stderr.GetAwaiter().GetResult());
    }
}

/// <summary>What sslib_verify.py found: the key ids whose signature verified and the threshold it counted against.</summary>
internal sealed record SslibVerifyResult(
    bool Ok,
    IReadOnlyList<string> Valid,
    IReadOnlyList<string> Invalid,
    int Threshold,
    string? Error,
    ProcessResult Process);
