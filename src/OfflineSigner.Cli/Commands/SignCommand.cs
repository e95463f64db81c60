using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.Protocol.Client;
using OfflineSigner.Protocol.Grpc;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Cli.Commands;

/// <summary>
/// <c>offline-signer sign --bundle B --key URI</c>: on the air-gapped machine, every item of the bundle the key may
/// sign is previewed by the daemon (its summary and diff, and the SHA-256 it will sign, which must be the manifest's),
/// the operator confirms and gives the PIN, the daemon signs, the signature is verified here against the key the
/// metadata lists, and written beside the item as a detached signature. Items are never rewritten, so holders sign
/// in turn, on different days, in any order.
/// </summary>
internal static class SignCommand
{
    private const int BatchSize = 1024;

    /// <summary>The most items one PreviewBatch or SignBatch call carries.</summary>
    private const int MaxBatchItems = 256;

    /// <summary>About how many bytes of documents one batch call carries.</summary>
    private const long MaxBatchBytes = 1024 * 1024;

    public static Command Create()
    {
        var bundle = new Option<string>("--bundle") { Description = "The bundle folder (on the USB stick)", Required = true };
        var key = new Option<string>("--key") { Description = "The key to sign with: a PKCS#11 URI (pkcs11:token=...;object=...) or a device reference (yubikey:serial=N;slot=9c)", Required = true };
        var socket = SocketOption();
        var pinFd = PinFdOption();
        var yes = new Option<bool>("--yes") { Description = "Do not ask for confirmation (scripts; the previews are still printed)" };
        var signer = new Option<string?>("--signer") { Description = "The key holder's name for the transcript (default: the login name)" };
        var limits = BundleCommands.LimitOptions();
        var json = BundleCommands.JsonOption();
        var cmd = new Command("sign", "Sign every item of a bundle that KEY may sign, through the daemon: preview (summary and diff), confirmation, PIN, touch where the device needs it, sign, verify, write the detached signature.\n" + ExitCodes.Help)
        {
            bundle, key, socket, pinFd, yes, signer, limits.MaxFile, limits.MaxTotal, limits.MaxFiles, json,
        };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(() => RunAsync(
            Open(p.GetValue(bundle)!, limits.Read(p)),
            p.GetValue(key)!,
            DaemonSession.SocketFrom(p.GetValue(socket)),
            new OperatorConsole(p.GetValue(yes), p.GetValue(pinFd), p.GetValue(json)),
            p.GetValue(signer) ?? Environment.UserName,
            p.GetValue(json),
            ct))));
        return cmd;
    }

    private static Bundle Open(string dir, BundleLimits limits)
    {
        using var phase = Timings.Measure("open and check the bundle");
        return Bundle.Open(dir, limits);
    }

    public static Option<string?> SocketOption() => new("--socket") { Description = $"The daemon's socket (default: $OFFLINE_SIGNER_SOCKET or {DaemonSession.DefaultSocket})" };

    public static Option<int?> PinFdOption() => new("--pin-fd") { Description = "Read the PIN from this file descriptor (one line; several lines for several keys) instead of asking on the terminal" };

    private static async Task<int> RunAsync(Bundle bundle, string keyUri, string socket, OperatorConsole console, string signer, bool json, CancellationToken ct)
    {
        var dialect = bundle.Manifest.Dialect;
        using var daemon = new DaemonSession(socket);
        var keyInfo = await daemon.KeyAsync(keyUri, dialect, ct).ConfigureAwait(false);
        var fingerprint = PublicKey.FromSubjectPublicKeyInfo(keyInfo.SubjectPublicKeyInfo.Span).Fingerprint;
        IReadOnlyList<ItemStatus> statuses;
        using (Timings.Measure("count every item's signatures"))
        {
            statuses = BundleMerge.Evaluate(bundle);
        }

        var todo = new List<(ItemStatus Status, Key Listed)>();
        var already = 0;
        foreach (var s in statuses)
        {
            var listed = s.Authorities.SelectMany(a => a.Role.KeyIds.Where(a.Keys.ContainsKey).Select(id => a.Keys[id]))
                .FirstOrDefault(k => k.PublicKey?.Fingerprint == fingerprint);
            if (listed is null)
            {
                continue;
            }

            if (bundle.SignaturesFor(s.Item.Id).Any(d => d.KeyId == listed.KeyId))
            {
                already++;
                continue;
            }

            todo.Add((s, listed));
        }

        if (todo.Count == 0)
        {
            throw new OfflineSignerException(already > 0
                ? $"key {keyUri} has already signed every item of the bundle it may sign ({already}); 'offline-signer status --bundle ...' shows what is still missing"
                : $"key {keyUri} (fingerprint {fingerprint}) signs none of the bundle's {statuses.Count} items: check the key, or 'offline-signer status --bundle ...' for the keys each item needs");
        }

        console.Info($"key {keyUri} ({keyInfo.Algorithm}, device serial {(keyInfo.DeviceSerial.Length > 0 ? keyInfo.DeviceSerial : "-")}) may sign {todo.Count} of {statuses.Count} items{(already > 0 ? $" ({already} signed before)" : string.Empty)}");
        var clock = Stopwatch.StartNew();
        var rpc = new Stopwatch();
        var shared = new Dictionary<string, ByteString>(StringComparer.Ordinal);
        var previews = new PreviewResponse[todo.Count];
        var progress = console.Progress("preview", todo.Count);

        // Many items for one key (hash bins) go to the daemon in batches: each item is still gated, checked against
        // its previewed digest and audited on its own. A YubiKey key signs one item per call (a touch each), and a
        // daemon without the batch methods gets one call per item.
        var batches = todo.Count > 1 && !keyUri.StartsWith("yubikey:", StringComparison.Ordinal) ? Batches(bundle, todo) : null;
        if (batches is not null)
        {
            var previewed = 0;
            try
            {
                foreach (var b in batches)
                {
                    var request = BatchRequest(bundle, todo, b, keyUri, shared);
                    rpc.Start();
                    var response = await daemon.Client.PreviewBatchAsync(request, DaemonSession.Call(ct)).ConfigureAwait(false);
                    rpc.Stop();
                    if (response.Previews.Count != b.Count)
                    {
                        throw new BundleException($"the daemon previewed {response.Previews.Count} of a batch of {b.Count} items; nothing was signed");
                    }

                    for (var j = 0; j < b.Count; j++)
                    {
                        previews[b[j]] = CheckPreview(todo[b[j]].Status.Item, response.Previews[j]);
                    }

                    previewed += b.Count;
                    progress.Report(previewed);
                }
            }
            catch (DaemonRpcException e) when (e.Status == StatusCode.Unimplemented && previewed == 0)
            {
                rpc.Stop();
                batches = null;
            }
        }

        if (batches is null)
        {
            for (var i = 0; i < todo.Count; i++)
            {
                var previewRequest = Request(bundle, todo[i].Status.Item, keyUri, shared);
                rpc.Start();
                var preview = await daemon.Client.PreviewAsync(previewRequest, DaemonSession.Call(ct)).ConfigureAwait(false);
                rpc.Stop();
                previews[i] = CheckPreview(todo[i].Status.Item, preview);
                progress.Report(i + 1);
            }
        }

        var previewTime = clock.Elapsed;
        var previewRpc = rpc.Elapsed;
        rpc.Reset();
        ShowPreviews(todo, previews, json);
        console.Confirm($"Sign {todo.Count} item(s) of bundle {bundle.Manifest.BundleId} with {keyUri}?");
        var pin = console.ReadPin(keyUri);
        var made = new List<DetachedSignature>();
        var pending = new List<DetachedSignature>();
        clock.Restart();

        // Verify before anything is written: the signature must be by the key the metadata lists, over these bytes.
        byte[] Check(int i, SignResponse response)
        {
            var (s, listed) = todo[i];
            var signed = s.Merged.SignedBytes();
            var method = response.Method.Length > 0 ? response.Method : null;
            var signature = response.Signature.ToByteArray();
            if (response.KeyId != listed.KeyId || !SignatureVerifier.Verify(listed.PublicKey!, dialect, listed.KeyType, listed.Scheme, method, signed, signature))
            {
                throw new BundleException($"item {s.Item.Id} ({s.Item.Role}): the daemon's signature does not verify against key {listed.KeyId}; nothing more is written");
            }

            return signature;
        }

        void Accept(int i, SignResponse response, byte[] signature)
        {
            var (s, listed) = todo[i];
            var detached = new DetachedSignature(
                bundle.Manifest.BundleId, s.Item.Id, s.Item.Role, s.Item.Version, s.Item.SignedSha256, listed.KeyId, signature, response.Method.Length > 0 ? response.Method : null,
                keyUri, keyInfo.DeviceSerial, signer, DateTimeOffset.UtcNow);
            pending.Add(detached);
            made.Add(detached);
            if (pending.Count >= BatchSize)
            {
                bundle.AddSignatures(pending, DateTimeOffset.UtcNow);
                pending.Clear();
            }
        }

        try
        {
            progress = console.Progress("sign", todo.Count);
            if (batches is not null)
            {
                Task<SignBatchResponse> Send(List<int> b)
                {
                    var request = new SignBatchRequest
                    {
                        Batch = BatchRequest(bundle, todo, b, keyUri, shared),
                        Pin = UnsafeByteOperations.UnsafeWrap(pin),
                    };
                    request.ExpectedSha256.AddRange(b.Select(i => previews[i].SignedSha256));
                    return daemon.Client.SignBatchAsync(request, DaemonSession.Call(ct));
                }

                // One call in flight: the daemon signs the next batch while this one is checked and written. Batches
                // are still taken in order, each kept only once all of it verifies.
                Task<SignBatchResponse>? next = Send(batches[0]);
                try
                {
                    for (var k = 0; k < batches.Count; k++)
                    {
                        var b = batches[k];
                        rpc.Start();
                        SignBatchResponse response;
                        try
                        {
                            response = await next!.ConfigureAwait(false);
                        }
                        finally
                        {
                            rpc.Stop();
                            next = null;
                        }

                        if (response.Signatures.Count != b.Count)
                        {
                            throw new BundleException($"the daemon returned {response.Signatures.Count} signatures for a batch of {b.Count} items; nothing more is written");
                        }

                        if (k + 1 < batches.Count)
                        {
                            next = Send(batches[k + 1]);
                        }

                        // Checked on every core; kept in order, and none of a batch is kept unless all of it verifies.
                        var signatures = Parallelism.Map(b.Count, j => Check(b[j], response.Signatures[j]));
                        for (var j = 0; j < b.Count; j++)
                        {
                            Accept(b[j], response.Signatures[j], signatures[j]);
                        }

                        progress.Report(made.Count);
                    }
                }
                finally
                {
                    // A batch still in flight when this one failed: its outcome is not used, but the call ends before
                    // the PIN it carries is wiped.
                    if (next is not null)
                    {
                        await next.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                    }
                }
            }
            else
            {
                for (var i = 0; i < todo.Count; i++)
                {
                    OperatorConsole.TouchPrompt(keyUri, keyInfo.DeviceSerial);
                    var signRequest = new SignRequest
                    {
                        Request = Request(bundle, todo[i].Status.Item, keyUri, shared),
                        ExpectedSha256 = previews[i].SignedSha256,
                        Pin = UnsafeByteOperations.UnsafeWrap(pin),
                    };
                    rpc.Start();
                    var response = await daemon.Client.SignAsync(signRequest, DaemonSession.Call(ct)).ConfigureAwait(false);
                    rpc.Stop();
                    Accept(i, response, Check(i, response));
                    progress.Report(i + 1);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pin);
            console.Wipe();
            bundle.AddSignatures(pending, DateTimeOffset.UtcNow);
        }

        var signTime = clock.Elapsed;
        ItemStatus[] after;
        using (Timings.Measure("count every item's signatures again"))
        {
            // The items as counted before, each signed one with its new signature added and counted again.
            var madeFor = made.ToDictionary(d => d.ItemId, StringComparer.Ordinal);
            after = Parallelism.Map(statuses.Count, i =>
            {
                var s = statuses[i];
                if (!madeFor.TryGetValue(s.Item.Id, out var d))
                {
                    return s;
                }

                s.Merged.AddSignature(d.ToSignature(dialect));
                return BundleMerge.Recount(s);
            });
        }

        var ready = after.Count(a => a.Complete);
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("bundle_id", bundle.Manifest.BundleId);
                w.WriteString("key_uri", keyUri);
                w.WriteString("key_id", made[0].KeyId);
                w.WriteNumber("signed", made.Count);
                w.WriteNumber("ready_items", ready);
                w.WriteNumber("items", after.Length);
                w.WriteNumber("preview_seconds", previewTime.TotalSeconds);
                w.WriteNumber("sign_seconds", signTime.TotalSeconds);
                w.WriteNumber("preview_rpc_seconds", previewRpc.TotalSeconds);
                w.WriteNumber("sign_rpc_seconds", rpc.Elapsed.TotalSeconds);
                w.WriteEndObject();
            });
        }
        else
        {
            Console.WriteLine($"signed {made.Count} item(s) with {keyUri} (key id {made[0].KeyId}); {ready} of {after.Length} items now meet their thresholds");
        }

        return ExitCodes.Ok;
    }

    /// <summary>The daemon must describe the very bytes the manifest names.</summary>
    private static PreviewResponse CheckPreview(BundleItem item, PreviewResponse preview)
    {
        var sha = Convert.ToHexStringLower(preview.SignedSha256.Span);
        if (sha != item.SignedSha256)
        {
            throw new BundleException($"item {item.Id} ({item.Role}): the daemon would sign bytes with SHA-256 {sha}, not the {item.SignedSha256} the manifest names; nothing was signed");
        }

        return preview;
    }

    /// <summary>
    /// The items in batches for the daemon: items that share their trusted root and delegator, in bundle order, at most
    /// <see cref="MaxBatchItems"/> and about <see cref="MaxBatchBytes"/> of documents each (well inside the daemon's
    /// default message limit). An item too large for a batch goes alone.
    /// </summary>
    private static List<List<int>> Batches(Bundle bundle, List<(ItemStatus Status, Key Listed)> todo)
    {
        var open = new Dictionary<(string, string), (List<int> Items, long Bytes)>();
        var lengths = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var c in bundle.Manifest.Context)
        {
            lengths[c.File.Path] = c.File.Length;
        }

        var result = new List<List<int>>();
        for (var i = 0; i < todo.Count; i++)
        {
            var item = todo[i].Status.Item;
            var context = (item.TrustedRoot != item.File.Path ? item.TrustedRoot : string.Empty, item.Delegator ?? string.Empty);
            var size = item.File.Length + (item.Previous is not null && lengths.TryGetValue(item.Previous, out var p) ? p : 0);
            if (!open.TryGetValue(context, out var current) || current.Items.Count >= MaxBatchItems || current.Bytes + size > MaxBatchBytes)
            {
                current = ([], 0);
                result.Add(current.Items);
            }

            current.Items.Add(i);
            open[context] = (current.Items, current.Bytes + size);
        }

        return result;
    }

    /// <summary>The daemon's batch request for some items: their documents, and the context they share.</summary>
    private static SigningBatch BatchRequest(Bundle bundle, List<(ItemStatus Status, Key Listed)> todo, List<int> items, string keyUri, Dictionary<string, ByteString> shared)
    {
        var first = todo[items[0]].Status.Item;
        var single = Request(bundle, first, keyUri, shared);
        var batch = new SigningBatch { KeyUri = keyUri, Gun = single.Gun, TrustedRoot = single.TrustedRoot, Delegator = single.Delegator };
        foreach (var i in items)
        {
            var item = todo[i].Status.Item;
            batch.Items.Add(new SigningBatchItem
            {
                Metadata = ByteString.CopyFrom(bundle.Read(item.File.Path)),
                Role = item.Role,
                Previous = item.Previous is null ? ByteString.Empty : ByteString.CopyFrom(bundle.Read(item.Previous)),
            });
        }

        return batch;
    }

    /// <summary>The daemon's request for an item: the item, and what the bundle carries to check it.</summary>
    public static SigningRequest Request(Bundle bundle, BundleItem item, string keyUri, Dictionary<string, ByteString>? shared = null)
    {
        // The trusted root and the delegator are the same few files for thousands of items: copied once.
        ByteString Bytes(string path)
        {
            if (shared is null)
            {
                return ByteString.CopyFrom(bundle.Read(path));
            }

            if (!shared.TryGetValue(path, out var b))
            {
                shared[path] = b = ByteString.CopyFrom(bundle.Read(path));
            }

            return b;
        }

        var request = new SigningRequest
        {
            Metadata = ByteString.CopyFrom(bundle.Read(item.File.Path)),
            Role = item.Role,
            KeyUri = keyUri,
        };

        // A first root is checked against itself: there is no trusted root yet.
        if (item.TrustedRoot != item.File.Path)
        {
            request.TrustedRoot = Bytes(item.TrustedRoot);
        }

        if (item.Previous is not null)
        {
            request.Previous = ByteString.CopyFrom(bundle.Read(item.Previous));
        }

        if (item.Delegator is not null)
        {
            request.Delegator = Bytes(item.Delegator);
        }

        if (bundle.Manifest.Repository.Gun is { } gun)
        {
            request.Gun = gun;
        }

        return request;
    }

    private static void ShowPreviews(List<(ItemStatus Status, Key Listed)> todo, PreviewResponse[] previews, bool quiet)
    {
        var output = quiet ? Console.Error : Console.Out;
        if (todo.Count <= 8)
        {
            for (var i = 0; i < todo.Count; i++)
            {
                var (s, listed) = todo[i];
                var p = previews[i];
                output.WriteLine($"--- item {s.Item.Id}: {p.Role} version {p.Version}, as key {listed.KeyId}, signed SHA-256 {Convert.ToHexStringLower(p.SignedSha256.Span)}");
                output.WriteLine(p.Summary.TrimEnd());
                output.WriteLine(p.Changes.Count == 0 ? "changes: none (a first version)" : "changes since the previous version:");
                foreach (var c in p.Changes)
                {
                    output.WriteLine("  " + c);
                }

                foreach (var warning in p.Warnings)
                {
                    output.WriteLine("  WARNING: " + warning);
                }
            }

            return;
        }

        // Many items (hash bins): the changes grouped, so that one odd change among thousands stands out.
        output.WriteLine($"--- {todo.Count} items ({string.Join(", ", previews.GroupBy(p => p.Role.Length > 0 && Root.TopLevelRoles.Contains(p.Role) ? p.Role : "delegated").Select(g => $"{g.Count()} {g.Key}"))})");
        var changes = previews.SelectMany(p => p.Changes.Select(c => c.Replace(p.Role, "ROLE", StringComparison.Ordinal))).GroupBy(c => c, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ToList();
        output.WriteLine("changes since the previous versions (how many items each):");
        foreach (var g in changes.Take(40))
        {
            output.WriteLine($"  {g.Count(),6} x {g.Key}");
        }

        if (changes.Count > 40)
        {
            output.WriteLine($"  ... {changes.Count - 40} more distinct changes: review with 'offline-signer show --previous'");
        }

        foreach (var w in previews.SelectMany(p => p.Warnings).Distinct(StringComparer.Ordinal).Take(20))
        {
            output.WriteLine("  WARNING: " + w);
        }
    }
}
