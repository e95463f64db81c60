using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// The real notary client (Debian package notary 0.7): <c>notary -s URL -d TRUSTDIR ...</c>, never interactive.
/// </summary>
/// <remarks>
/// What notary 0.7 needs, found by running it:
/// <list type="bullet">
/// <item>A plain HTTP server works with <c>-s http://127.0.0.1:PORT</c> alone: no TLS settings and no client
/// config file are needed (without <c>-s</c> it would go to https://notary-server:4443).</item>
/// <item>Key passphrases come from NOTARY_ROOT_PASSPHRASE, NOTARY_TARGETS_PASSPHRASE, NOTARY_SNAPSHOT_PASSPHRASE
/// and NOTARY_DELEGATION_PASSPHRASE; with one missing it would prompt on the terminal, so all four are always set
/// (only in the child's environment, never on its command line).</item>
/// <item><c>init GUN</c> only stages; <c>-p</c> (or <c>publish GUN</c>) sends it. The snapshot key is held by the
/// client unless rotated to the server with <c>key rotate GUN snapshot -r</c>; the timestamp key is always the
/// server's.</item>
/// <item><c>key rotate GUN root</c> asks "are you sure (yes/no)" on standard input even with the passphrases set,
/// and on anything but "yes" prints "Aborting action." and still exits 0: the answer is given on stdin and the
/// output is checked.</item>
/// <item>Delegations take a certificate (<c>delegation add GUN targets/NAME CERT.pem --all-paths</c>); signing
/// for the delegated role needs the private key imported (<c>key import KEY.pem --role targets/NAME</c>, stored
/// under NOTARY_DELEGATION_PASSPHRASE) and <c>add ... --roles targets/NAME</c>. <c>delegation list</c> shows
/// notary's canonical key id (the key written as plain ecdsa), not the TUF key id of the ecdsa-x509 key that
/// targets.json lists.</item>
/// </list>
/// </remarks>
internal sealed partial class NotaryCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public NotaryCli(string serverUrl, string trustDir, NotaryPassphrases? passphrases = null)
    {
        Executable = TestEnvironment.RequireTool("notary", "Debian package notary");
        ServerUrl = serverUrl;
        TrustDir = trustDir;
        Passphrases = passphrases ?? NotaryPassphrases.CreateRandom();
    }

    public NotaryCli(NotaryServer server, string trustDir, NotaryPassphrases? passphrases = null)
        : this(server.Url, trustDir, passphrases)
    {
    }

    public string Executable { get; }

    public string ServerUrl { get; }

    public string TrustDir { get; }

    public NotaryPassphrases Passphrases { get; }

    /// <summary>Another client of the same server with its own trust directory and the same passphrases (a "fresh" client when the folder is new).</summary>
    public NotaryCli WithTrustDir(string trustDir) => new(ServerUrl, trustDir, Passphrases);

    /// <summary>Runs <c>notary -s URL -d TRUSTDIR ARGS</c> and returns what happened, whatever the exit code.</summary>
    public ProcessResult Run(IEnumerable<string> arguments, string? stdin = null)
    {
        var args = new List<string> { "-s", ServerUrl, "-d", TrustDir };
        args.AddRange(arguments);
        return ProcessRunner.Run(
            Executable,
            args,
            Timeout,
            Passphrases.Environment(),
            workingDirectory: TrustDir is { Length: > 0 } && Directory.Exists(TrustDir) ? TrustDir : null,
            stdin: stdin is null ? [] : Encoding.UTF8.GetBytes(stdin));
    }

    /// <summary>Runs notary and throws <see cref="PeerToolException"/> with its output unless it exits 0.</summary>
    public ProcessResult RunChecked(string what, IEnumerable<string> arguments, string? stdin = null)
    {
        var list = arguments.ToList();
        var result = Run(list, stdin);
        if (result.ExitCode != 0)
        {
            throw new PeerToolException($"notary {what} failed: notary {string.Join(' ', list)}\n{result}");
        }

        return result;
    }

    /// <summary><c>init GUN</c> then <c>publish GUN</c>: a new repository with a new root key (or the one in the trust dir).</summary>
    public void InitAndPublish(string gun)
    {
        RunChecked("init", ["init", gun]);
        Publish(gun);
    }

    public void Publish(string gun) => RunChecked("publish", ["publish", gun]);

    /// <summary><c>add GUN NAME FILE [--roles ROLE]</c> then <c>publish GUN</c>.</summary>
    public void AddAndPublish(string gun, string targetName, string file, string? role = null)
    {
        var args = new List<string> { "add", gun, targetName, file };
        if (role is not null)
        {
            args.AddRange(["--roles", role]);
        }

        RunChecked("add", args);
        Publish(gun);
    }

    /// <summary><c>list GUN [--roles ROLE]</c>, parsed. Throws when notary refuses (unknown repository, bad signatures...).</summary>
    public IReadOnlyList<NotaryTarget> List(string gun, string? role = null)
    {
        var args = new List<string> { "list", gun };
        if (role is not null)
        {
            args.AddRange(["--roles", role]);
        }

        var result = RunChecked("list", args);
        var targets = new List<NotaryTarget>();
        foreach (var row in TableRows(result.StdOut))
        {
            var cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (cells.Length != 4 || !long.TryParse(cells[2], out var size))
            {
                throw new PeerToolException("cannot read this `notary list` row: " + row + "\n" + result);
            }

            targets.Add(new NotaryTarget(cells[0], cells[1], size, cells[3]));
        }

        return targets;
    }

    /// <summary>
    /// <c>key rotate GUN ROLE [-r]</c> (published at once by notary). For root, answers notary's confirmation with
    /// "yes" and fails if notary still aborted.
    /// </summary>
    public ProcessResult RotateKey(string gun, string role, bool serverManaged = false)
    {
        var args = new List<string> { "key", "rotate", gun, role };
        if (serverManaged)
        {
            args.Add("-r");
        }

        var result = RunChecked("key rotate", args, stdin: "yes\n");
        if (result.StdOut.Contains("Aborting", StringComparison.Ordinal) || !result.StdOut.Contains("Successfully rotated", StringComparison.Ordinal))
        {
            throw new PeerToolException("notary key rotate did not rotate\n" + result);
        }

        return result;
    }

    /// <summary><c>key import KEY.pem --role ROLE</c>: a private key the client may then sign with.</summary>
    public void ImportKey(string keyPemFile, string role) => RunChecked("key import", ["key", "import", keyPemFile, "--role", role]);

    /// <summary><c>delegation add GUN ROLE CERT.pem (--all-paths | --paths P...)</c> then publish.</summary>
    public void AddDelegationAndPublish(string gun, string role, string certificatePem, IReadOnlyList<string>? paths = null)
    {
        var args = new List<string> { "delegation", "add", gun, role, certificatePem };
        if (paths is null)
        {
            args.Add("--all-paths");
        }
        else
        {
            foreach (var p in paths)
            {
                args.AddRange(["--paths", p]);
            }
        }

        RunChecked("delegation add", args);
        Publish(gun);
    }

    /// <summary><c>delegation list GUN</c>, parsed: role, key ids and threshold of every delegation.</summary>
    public IReadOnlyList<NotaryDelegation> ListDelegations(string gun)
    {
        var result = RunChecked("delegation list", ["delegation", "list", gun]);
        var delegations = new List<NotaryDelegation>();
        string? role = null;
        int threshold = 0;
        var keyIds = new List<string>();
        void Flush()
        {
            if (role is not null)
            {
                delegations.Add(new NotaryDelegation(role, [.. keyIds], threshold));
            }
        }

        foreach (var row in TableRows(result.StdOut))
        {
            // A row may wrap its key ids onto indented continuation lines.
            if (!char.IsWhiteSpace(row[0]))
            {
                Flush();
                var cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                role = cells[0];
                threshold = int.TryParse(cells[^1], out var t) ? t : throw new PeerToolException("no threshold in: " + row + "\n" + result);
                keyIds = [];
            }

            keyIds.AddRange(KeyIdPattern().Matches(row).Select(m => m.Value));
        }

        Flush();
        return delegations;
    }

    // The rows of notary's tables: the lines after the "----" rule, without blank lines.
    private static IEnumerable<string> TableRows(string stdout)
    {
        var lines = stdout.Split('\n');
        var rule = Array.FindIndex(lines, l => l.TrimStart().StartsWith("----", StringComparison.Ordinal));
        if (rule < 0)
        {
            yield break;
        }

        foreach (var line in lines.Skip(rule + 1))
        {
            if (line.Trim().Length > 0)
            {
                yield return line.TrimEnd();
            }
        }
    }

    [GeneratedRegex("\\b[0-9a-f]{64}\\b")]
    private static partial Regex KeyIdPattern();
}

/// <summary>The four passphrases notary protects its key files with, given to it only through its environment.</summary>
internal sealed record NotaryPassphrases(string Root, string Targets, string Snapshot, string Delegation)
{
    /// <summary>Throwaway passphrases for one test.</summary>
    public static NotaryPassphrases CreateRandom() => new(Make(), Make(), Make(), Make());

    public Dictionary<string, string?> Environment() => new()
    {
        ["NOTARY_ROOT_PASSPHRASE"] = Root,
        ["NOTARY_TARGETS_PASSPHRASE"] = Targets,
        ["NOTARY_SNAPSHOT_PASSPHRASE"] = Snapshot,
        ["NOTARY_DELEGATION_PASSPHRASE"] = Delegation,
    };

    // Never printed: a record's default ToString would show them in a failure message.
    public override string ToString() => "NotaryPassphrases { (hidden) }";

    private static string Make() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
}

/// <summary>A row of <c>notary list</c>.</summary>
internal sealed record NotaryTarget(string Name, string Sha256, long Size, string Role);

/// <summary>A row of <c>notary delegation list</c>.</summary>
internal sealed record NotaryDelegation(string Role, IReadOnlyList<string> KeyIds, int Threshold);
