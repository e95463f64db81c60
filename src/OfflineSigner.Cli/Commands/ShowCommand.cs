using System.CommandLine;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer show FILE [--previous FILE]</c>: what an operator reads before signing.</summary>
internal static class ShowCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A metadata file" };
        var previous = new Option<string?>("--previous") { Description = "The previous version of the same role: show every change instead" };
        var json = new Option<bool>("--json") { Description = "Write the result as JSON" };
        var maxBytes = CommandSupport.MaxBytesOption();
        var cmd = new Command("show", "Describe a metadata document completely, or every change since a previous version of the same role.")
        {
            file, previous, json, maxBytes,
        };
        cmd.SetAction(p => CommandSupport.Guard(() => Run(p.GetValue(file)!, p.GetValue(previous), p.GetValue(json), CommandSupport.ParseOptions(p.GetValue(maxBytes)))));
        return cmd;
    }

    private static int Run(string file, string? previousPath, bool json, MetadataParseOptions options)
    {
        var now = DateTimeOffset.UtcNow;
        if (CommandSupport.ReadIndexedTargets(file, options) is { } indexed)
        {
            // A targets role, read through the index: described as each entry is read, never held as a tree.
            if (previousPath is null)
            {
                return DescribeIndexed(indexed, now, json);
            }

            if (CommandSupport.ReadIndexedTargets(previousPath, options) is { } previousIndexed)
            {
                return ChangesIndexed(previousIndexed, indexed, json);
            }
        }

        var current = CommandSupport.ReadMetadata(file, options);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(current.SignedBytes()));
        if (previousPath is null)
        {
            var text = MetadataSummary.Describe(current, now);
            if (json)
            {
                CommandSupport.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("type", current.Signed.Type.ToString().ToLowerInvariant());
                    w.WriteString("dialect", current.Dialect == Dialect.Notary ? "notary" : "tuf");
                    w.WriteNumber("version", current.Signed.Version);
                    w.WriteString("expires", Rfc3339.Format(current.Signed.Expires));
                    w.WriteString("signed_sha256", sha);
                    w.WriteString("summary", text);
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.Write(text);
                Console.WriteLine($"  SHA-256 of the signed bytes: {sha}");
            }

            return ExitCodes.Ok;
        }

        var previous = CommandSupport.ReadMetadata(previousPath, options);
        var changes = MetadataSummary.Changes(previous, current);
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", current.Signed.Type.ToString().ToLowerInvariant());
                w.WriteNumber("from_version", previous.Signed.Version);
                w.WriteNumber("to_version", current.Signed.Version);
                w.WriteString("signed_sha256", sha);
                CommandSupport.WriteStrings(w, "changes", changes);
                w.WriteEndObject();
            });
        }
        else
        {
            Console.Write(MetadataSummary.DescribeChanges(previous, current));
            Console.WriteLine($"  SHA-256 of the new signed bytes: {sha}");
        }

        return ExitCodes.Ok;
    }

    private static int ChangesIndexed(IndexedTargets previous, IndexedTargets current, bool json)
    {
        var sha = Convert.ToHexStringLower(current.SignedDigest(System.Security.Cryptography.HashAlgorithmName.SHA256));
        if (json)
        {
            var changes = MetadataSummary.Changes(previous, current);
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "targets");
                w.WriteNumber("from_version", previous.Version);
                w.WriteNumber("to_version", current.Version);
                w.WriteString("signed_sha256", sha);
                CommandSupport.WriteStrings(w, "changes", changes);
                w.WriteEndObject();
            });
            return ExitCodes.Ok;
        }

        using var stdout = CommandSupport.OpenStdout();
        stdout.Write(MetadataSummary.DescribeChanges(previous, current));
        stdout.Write($"  SHA-256 of the new signed bytes: {sha}\n");
        return ExitCodes.Ok;
    }

    private static int DescribeIndexed(IndexedTargets targets, DateTimeOffset now, bool json)
    {
        var sha = Convert.ToHexStringLower(targets.SignedDigest(System.Security.Cryptography.HashAlgorithmName.SHA256));
        if (json)
        {
            using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
            MetadataSummary.Describe(targets, now, text);
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "targets");
                w.WriteString("dialect", targets.Dialect == Dialect.Notary ? "notary" : "tuf");
                w.WriteNumber("version", targets.Version);
                w.WriteString("expires", Rfc3339.Format(targets.Expires));
                w.WriteString("signed_sha256", sha);
                w.WriteString("summary", text.ToString());
                w.WriteEndObject();
            });
            return ExitCodes.Ok;
        }

        using var stdout = CommandSupport.OpenStdout();
        MetadataSummary.Describe(targets, now, stdout);
        stdout.Write($"  SHA-256 of the signed bytes: {sha}\n");
        return ExitCodes.Ok;
    }
}
