using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Commands;

/// <summary>What every command shares: reading inputs, turning failures into messages and exit codes.</summary>
internal static class CommandSupport
{
    private const long DefaultFileLimit = 64L * 1024 * 1024;

    /// <summary>Runs a command body; expected failures become one clear line on stderr and exit code 2, never a stack trace.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Workflow.ImportRefusedException e)
        {
            Console.Error.WriteLine("refused: " + e.Message);
            return ExitCodes.VerificationFailed;
        }
        catch (Bundles.BundleException e)
        {
            Console.Error.WriteLine("refused: " + e.Message);
            return ExitCodes.VerificationFailed;
        }
        catch (Repositories.NotaryServerException e)
        {
            Console.Error.WriteLine("error: the notary server: " + e.Message);
            return ExitCodes.Unavailable;
        }
        catch (Protocol.Client.DaemonRpcException e)
        {
            Console.Error.WriteLine("error: the daemon: " + e.Message + DaemonHint(e));
            return ExitCodes.Unavailable;
        }
        catch (Workflow.DeclinedException e)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.Declined;
        }
        catch (OfflineSignerException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return ExitCodes.BadInput;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return ExitCodes.BadInput;
        }
        catch (UnauthorizedAccessException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return ExitCodes.BadInput;
        }
    }

    /// <summary>Runs an asynchronous command body under <see cref="Guard(Func{int})"/>.</summary>
    public static int Guard(Func<Task<int>> body) => Guard(() => body().GetAwaiter().GetResult());

    private static string DaemonHint(Protocol.Client.DaemonRpcException e) => e.Status switch
    {
        Protocol.Grpc.StatusCode.Unavailable => " (is offline-signerd running? check 'offline-signer daemon status --socket PATH' or set $OFFLINE_SIGNER_SOCKET)",
        Protocol.Grpc.StatusCode.PermissionDenied => " (your user is not allowed on the daemon's socket: see daemon.allowedUids / allowedGids)",
        Protocol.Grpc.StatusCode.Unauthenticated => " (the PIN was refused: check it; the token's retry counter is shown by 'offline-signer daemon status')",
        _ => string.Empty,
    };

    /// <summary>Reads and parses a metadata file; errors name the file.</summary>
    public static Metadata<Signed> ReadMetadata(string path, MetadataParseOptions? options = null)
    {
        var bytes = ReadFile(path, FileLimit(options ?? MetadataParseOptions.Default));
        try
        {
            return MetadataReader.Parse(bytes, options);
        }
        catch (MetadataException e)
        {
            throw new MetadataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// <c>--max-bytes</c>: the largest metadata file accepted, raising python-tuf's caps (root 512,000, timestamp
    /// 16,384, snapshot 2,000,000, targets 5,000,000 bytes), which are the defaults.
    /// </summary>
    public static Option<long?> MaxBytesOption() => new("--max-bytes")
    {
        Description = "Accept metadata files up to this many bytes, any role (default: python-tuf's limits, targets 5,000,000 bytes)",
    };

    /// <summary>The parse options for a <c>--max-bytes</c> value (null: the defaults).</summary>
    public static MetadataParseOptions ParseOptions(long? maxBytes) =>
        maxBytes switch
        {
            null => MetadataParseOptions.Default,
            < 1 => throw new OfflineSignerException($"--max-bytes: {maxBytes} is not a positive number of bytes"),
            long n => MetadataParseOptions.Default.WithMaxBytes(n),
        };

    /// <summary>The largest file worth reading under <paramref name="options"/>.</summary>
    public static long FileLimit(MetadataParseOptions options) =>
        Math.Max(DefaultFileLimit, Math.Max(Math.Max(options.MaxRootBytes, options.MaxTargetsBytes), Math.Max(options.MaxSnapshotBytes, options.MaxTimestampBytes)));

    /// <summary>
    /// Reads a file through <see cref="IndexedTargets.ParseIfTargets"/>: the targets role read through the index, or
    /// null when the file holds another type of metadata. Errors name the file.
    /// </summary>
    public static IndexedTargets? ReadIndexedTargets(string path, MetadataParseOptions options)
    {
        var bytes = ReadFile(path, FileLimit(options));
        try
        {
            return IndexedTargets.ParseIfTargets(bytes, options);
        }
        catch (MetadataException e)
        {
            throw new MetadataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Standard output as a buffered UTF-8 writer (long descriptions are written line by line).</summary>
    public static StreamWriter OpenStdout() =>
        new(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 64 * 1024) { AutoFlush = false };

    /// <summary>Reads a file, refusing absurd sizes before reading.</summary>
    public static byte[] ReadFile(string path, long maxBytes = DefaultFileLimit)
    {
        // One open, one fstat, the reads, one close: repositories of hash bins read tens of thousands of files.
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException || (e is UnauthorizedAccessException && Directory.Exists(path)))
        {
            throw new FileNotFoundException($"{path}: no such file", e);
        }

        using (handle)
        {
            var length = RandomAccess.GetLength(handle);
            if (length > maxBytes)
            {
                throw new OfflineSignerException($"{path}: {length} bytes is more than the limit of {maxBytes}");
            }

            var bytes = new byte[length];
            var read = 0;
            while (read < bytes.Length)
            {
                var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
                if (n == 0)
                {
                    // The file shrank after its length was read: what is there now.
                    return bytes[..read];
                }

                read += n;
            }

            return bytes;
        }
    }

    /// <summary>Parses --at: an RFC 3339 time, or now.</summary>
    public static DateTimeOffset ParseAt(string? at)
    {
        if (string.IsNullOrEmpty(at))
        {
            return DateTimeOffset.UtcNow;
        }

        return Rfc3339.TryParse(at, out var t)
            ? t
            : throw new OfflineSignerException($"--at: \"{at}\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z");
    }

    /// <summary>Writes an indented JSON object to stdout.</summary>
    public static void WriteJson(Action<Utf8JsonWriter> write)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
        {
            write(w);
        }

        stdout.WriteByte((byte)'\n');
    }

    /// <summary>Writes a verification result as JSON.</summary>
    public static void WriteResult(Utf8JsonWriter w, string name, VerificationResult? r)
    {
        if (r is null)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        w.WriteString("role", r.Role);
        w.WriteNumber("threshold", r.Threshold);
        w.WriteNumber("signed", r.Signers.Count);
        w.WriteBoolean("verified", r.Verified);
        w.WriteStartArray("signers");
        foreach (var k in r.Signers)
        {
            w.WriteStringValue(k.KeyId);
        }

        w.WriteEndArray();
        w.WriteStartArray("missing");
        foreach (var k in r.Missing)
        {
            w.WriteStringValue(k.KeyId);
        }

        w.WriteEndArray();
        WriteStrings(w, "problems", r.Problems);
        WriteStrings(w, "warnings", r.Warnings);
        WriteStrings(w, "ignored_signatures", r.IgnoredSignatures);
        w.WriteEndObject();
    }

    public static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    public static string Count(VerificationResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.Signers.Count}/{r.Threshold}");
}
