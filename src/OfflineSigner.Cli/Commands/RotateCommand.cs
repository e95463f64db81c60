using System.CommandLine;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.Collections;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;

namespace OfflineSigner.Cli.Commands;

/// <summary>
/// <c>offline-signer rotate root|delegation</c>: a key rotation prepared and signed in one step on the air-gapped
/// machine by the daemon's RotationService (preview, confirmation, PINs, rotate), from the current metadata an
/// export bundle carries; the result is a new bundle whose item holds the signatures made, detached, for other
/// holders to add theirs and for the online side to import.
/// </summary>
internal static class RotateCommand
{
    public static Command Create()
    {
        var cmd = new Command("rotate", "Prepare and sign a root or delegation key rotation in one step on the air-gapped machine, from an export bundle; writes a new bundle to import.\n" + ExitCodes.Help);
        cmd.Subcommands.Add(Root());
        cmd.Subcommands.Add(Delegation());
        return cmd;
    }

    private static Command Root()
    {
        var o = new CommonOptions("The bundle from 'export --role root' (or any export of the repository): its trusted root is rotated");
        var cmd = new Command("root", "Build root N+1 with keys replaced and sign it with the given keys (old root keys cross-sign, new ones sign).\n" + ExitCodes.Help);
        o.AddTo(cmd);
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            var input = Bundle.Open(p.GetValue(o.Bundle)!);
            var manifest = input.Manifest;
            var rootContext = manifest.ContextOf("root").SingleOrDefault() ?? throw new OfflineSignerException("the bundle carries no trusted root (export one with 'offline-signer export --role root')");
            var currentRootBytes = input.Read(rootContext.File.Path);
            var currentRoot = Metadata<Root>.Parse(currentRootBytes, dialect: manifest.Dialect);
            using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(o.Socket)));
            var console = new OperatorConsole(p.GetValue(o.Yes), p.GetValue(o.PinFd), p.GetValue(o.Json));
            var request = new RootRotationRequest
            {
                CurrentRoot = ByteString.CopyFrom(currentRootBytes),
                Threshold = p.GetValue(o.Threshold) ?? 0,
                Expires = ExpiresText(p.GetValue(o.Expires)),
                Gun = manifest.Repository.Gun ?? string.Empty,
            };
            var signers = await o.FillAsync(p, request.RemoveKeyIds, request.AddKeys, request.SignWith, daemon, manifest, console, root: true, ct).ConfigureAwait(false);
            var preview = await daemon.Client.PreviewRootRotationAsync(request, DaemonSession.Call(ct)).ConfigureAwait(false);
            Show(preview, console);
            console.Confirm($"Rotate root {currentRoot.Signed.Version} -> {currentRoot.Signed.Version + 1} and sign with {signers.Length} key(s)?");
            request.ExpectedSha256 = preview.SignedSha256;
            return await WithPinsAsync(signers, request.SignWith, console, async () =>
            {
                var rotated = await daemon.Client.RotateRootAsync(request, DaemonSession.Call(ct, 300)).ConfigureAwait(false);
                var builder = new BundleBuilder(manifest.Dialect, manifest.Repository.Name, manifest.Repository.Gun, currentRoot, currentRootBytes);
                var trusted = builder.AddTrustedRoot();
                var signed = MetadataReader.Parse(rotated.Metadata.Span, dialect: manifest.Dialect);
                var unsigned = MetadataReader.Parse(rotated.Metadata.Span, dialect: manifest.Dialect);
                builder.AddItem("root", unsigned, trusted, currentRootBytes, null);
                return await WriteAsync(builder, signed, signers, daemon, console, p.GetValue(o.Out)!, p.GetValue(o.Json), rotated, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
        })));
        return cmd;
    }

    private static Command Delegation()
    {
        var o = new CommonOptions("The bundle from 'export --role targets' (or --role DELEGATOR): its delegator is rotated");
        var delegation = new Option<string>("--delegation") { Description = "The delegation whose keys change", Required = true };
        var delegator = new Option<string>("--delegator") { Description = "The delegating role (default targets)", DefaultValueFactory = _ => "targets" };
        var cmd = new Command("delegation", "Build the delegating role's next version with one delegation's keys replaced and sign it with the delegator's key(s). The delegated role must then be re-signed by its new key: export it with the next bundle, or sign the new bundle with the new key if it is here.\n" + ExitCodes.Help)
        {
            delegation, delegator,
        };
        o.AddTo(cmd);
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            var input = Bundle.Open(p.GetValue(o.Bundle)!);
            var manifest = input.Manifest;
            var delegatorRole = p.GetValue(delegator)!;
            var rootContext = manifest.ContextOf("root").SingleOrDefault() ?? throw new OfflineSignerException("the bundle carries no trusted root");
            var rootBytes = input.Read(rootContext.File.Path);
            var root = Metadata<Root>.Parse(rootBytes, dialect: manifest.Dialect);
            var delegatorItem = manifest.Items.FirstOrDefault(i => i.Role == delegatorRole && i.Previous is not null)
                ?? throw new OfflineSignerException($"the bundle has no item for '{delegatorRole}' with its current version: export it with --role {delegatorRole}");
            var currentDelegator = input.Read(delegatorItem.Previous!);
            using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(o.Socket)));
            var console = new OperatorConsole(p.GetValue(o.Yes), p.GetValue(o.PinFd), p.GetValue(o.Json));
            var request = new DelegationRotationRequest
            {
                TrustedRoot = ByteString.CopyFrom(rootBytes),
                Delegator = ByteString.CopyFrom(currentDelegator),
                DelegatorRole = delegatorRole,
                Delegation = p.GetValue(delegation)!,
                Threshold = p.GetValue(o.Threshold) ?? 0,
                Expires = ExpiresText(p.GetValue(o.Expires)),
            };
            if (delegatorRole != "targets")
            {
                var parent = manifest.ContextOf("delegator").FirstOrDefault() ?? throw new OfflineSignerException($"the bundle lacks the metadata that delegates to '{delegatorRole}'");
                request.DelegatorParent = ByteString.CopyFrom(input.Read(parent.File.Path));
            }

            var signers = await o.FillAsync(p, request.RemoveKeyIds, request.AddKeys, request.SignWith, daemon, manifest, console, root: false, ct).ConfigureAwait(false);
            var preview = await daemon.Client.PreviewDelegationRotationAsync(request, DaemonSession.Call(ct)).ConfigureAwait(false);
            Show(preview, console);
            console.Confirm($"Rotate the keys of delegation '{request.Delegation}' and sign {delegatorRole} with {signers.Length} key(s)?");
            request.ExpectedSha256 = preview.SignedSha256;
            return await WithPinsAsync(signers, request.SignWith, console, async () =>
            {
                var rotated = await daemon.Client.RotateDelegationAsync(request, DaemonSession.Call(ct, 300)).ConfigureAwait(false);
                var builder = new BundleBuilder(manifest.Dialect, manifest.Repository.Name, manifest.Repository.Gun, root, rootBytes);
                var trusted = builder.AddTrustedRoot();
                var signed = MetadataReader.Parse(rotated.Metadata.Span, dialect: manifest.Dialect);
                var unsigned = MetadataReader.Parse(rotated.Metadata.Span, dialect: manifest.Dialect);
                if (delegatorRole == "targets")
                {
                    var path = builder.AddItem("targets", unsigned, trusted, currentDelegator, null);
                    builder.UseItemAsDelegator("targets", path);
                }
                else
                {
                    var parent = manifest.ContextOf("delegator").First();
                    var parentPath = builder.AddDelegator(parent.Role, Metadata<Targets>.Parse(input.Read(parent.File.Path), dialect: manifest.Dialect), input.Read(parent.File.Path));
                    var path = builder.AddItem(delegatorRole, unsigned, trusted, currentDelegator, parentPath);
                    builder.UseItemAsDelegator(delegatorRole, path);
                }

                // The delegated role's next version goes along, to be signed by its new key(s).
                var delegatedItem = manifest.Items.FirstOrDefault(i => i.Role == request.Delegation);
                if (delegatedItem is not null)
                {
                    builder.AddItem(request.Delegation, MetadataReader.Parse(input.Read(delegatedItem.File.Path), dialect: manifest.Dialect), trusted, delegatedItem.Previous is null ? null : input.Read(delegatedItem.Previous), builder.DelegatorPathFor(delegatorRole));
                }

                return await WriteAsync(builder, signed, signers, daemon, console, p.GetValue(o.Out)!, p.GetValue(o.Json), rotated, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
        })));
        return cmd;
    }

    /// <summary>
    /// Reads each signer's PIN (bytes, from the terminal or --pin-fd), attaches it to that signer's entry, prompts for
    /// a touch where the device wants one, then runs the rotation; every PIN is wiped afterwards, whatever happened.
    /// </summary>
    private static async Task<int> WithPinsAsync(string[] signers, RepeatedField<SigningKey> signWith, OperatorConsole console, Func<Task<int>> rotate)
    {
        var pins = new List<byte[]>();
        try
        {
            for (var i = 0; i < signers.Length; i++)
            {
                var pin = console.ReadPin(signers[i]);
                pins.Add(pin);
                signWith[i].Pin = UnsafeByteOperations.UnsafeWrap(pin);
                OperatorConsole.TouchPrompt(signers[i], DaemonSession.DeviceSerial(signers[i]));
            }

            return await rotate().ConfigureAwait(false);
        }
        finally
        {
            foreach (var pin in pins)
            {
                CryptographicOperations.ZeroMemory(pin);
            }

            console.Wipe();
        }
    }

    /// <summary>A key to add: a key object file, or a key URI on this machine (for a notary root: its new x509 certificate).</summary>
    private static async Task<string> KeyObjectAsync(DaemonSession daemon, string add, BundleManifest manifest, OperatorConsole console, bool root, CancellationToken ct)
    {
        if (File.Exists(add))
        {
            // Checked here, sent as written (a key file from 'keys public' is canonical JSON).
            var bytes = CommandSupport.ReadFile(add, 1024 * 1024);
            _ = Exporter.ParseKey(bytes, manifest.Dialect);
            return System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\n');
        }

        var (json, _) = root && manifest.Dialect == Tuf.Dialect.Notary
            ? await KeysCommand.RootCertificateKeyAsync(daemon, add, manifest.Repository.Gun!, console, ct).ConfigureAwait(false)
            : await KeysCommand.PublicKeyAsync(daemon, add, manifest.Dialect, ct).ConfigureAwait(false);
        return json;
    }

    private static string ExpiresText(string? expires) =>
        expires is { Length: > 0 } e ? Rfc3339.Format(Exporter.ParseExpires(e, DateTimeOffset.UtcNow)) : string.Empty;

    private static void Show(RotationResponse preview, OperatorConsole console)
    {
        var output = console.Quiet ? Console.Error : Console.Out;
        output.WriteLine(preview.Summary.TrimEnd());
        output.WriteLine("changes:");
        foreach (var c in preview.Changes)
        {
            output.WriteLine("  " + c);
        }

        foreach (var w in preview.Warnings)
        {
            output.WriteLine("  WARNING: " + w);
        }

        output.WriteLine($"signed SHA-256 {Convert.ToHexStringLower(preview.SignedSha256.Span)}; after these signatures: {preview.SignaturesNeeded} more needed{(preview.CrossSignaturesNeeded > 0 ? $", {preview.CrossSignaturesNeeded} more cross-signatures by the current root" : string.Empty)}");
    }

    /// <summary>Writes the new bundle and the signatures the daemon made, each verified here first, as detached signatures.</summary>
    private static async Task<int> WriteAsync(BundleBuilder builder, Metadata<Signed> signed, string[] signers, DaemonSession daemon, OperatorConsole console, string outDir, bool json, RotationResponse rotated, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var manifest = builder.Write(outDir, now, ("rotation", signed.Signed.Type.ToString().ToLowerInvariant()), ("from", "rotate"));
        var bundle = Bundle.Open(outDir);
        var status = BundleMerge.Evaluate(bundle)[0];
        var keys = status.Authorities.SelectMany(a => a.Role.KeyIds.Where(a.Keys.ContainsKey).Select(id => a.Keys[id])).ToList();
        var bytes = signed.SignedBytes();
        var detached = new List<DetachedSignature>();
        foreach (var uri in signers)
        {
            var info = await daemon.KeyAsync(uri, manifest.Dialect, ct).ConfigureAwait(false);
            var fingerprint = PublicKey.FromSubjectPublicKeyInfo(info.SubjectPublicKeyInfo.Span).Fingerprint;
            foreach (var key in keys.Where(k => k.PublicKey?.Fingerprint == fingerprint).DistinctBy(k => k.KeyId))
            {
                var sig = signed.Signatures.FirstOrDefault(s => s.KeyId == key.KeyId);
                if (sig is null || detached.Any(d => d.KeyId == key.KeyId))
                {
                    continue;
                }

                if (!SignatureVerifier.Verify(key.PublicKey!, manifest.Dialect, key.KeyType, key.Scheme, sig.Method, bytes, sig.Value))
                {
                    throw new BundleException($"the daemon's signature by {key.KeyId} does not verify; nothing more is written");
                }

                var item = status.Item;
                detached.Add(new DetachedSignature(manifest.BundleId, item.Id, item.Role, item.Version, item.SignedSha256, key.KeyId, sig.Value, sig.Method, uri, info.DeviceSerial, Environment.UserName, now));
            }
        }

        bundle.AddSignatures(detached, now);
        if (json)
        {
            CommandSupport.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("bundle", Path.GetFullPath(outDir));
                w.WriteString("bundle_id", manifest.BundleId);
                w.WriteNumber("signatures", detached.Count);
                w.WriteNumber("signatures_needed", rotated.SignaturesNeeded);
                w.WriteNumber("cross_signatures_needed", rotated.CrossSignaturesNeeded);
                w.WriteEndObject();
            });
        }
        else
        {
            console.Info($"rotation signed by {detached.Count} key(s); {rotated.SignaturesNeeded} more signature(s) needed{(rotated.CrossSignaturesNeeded > 0 ? $", {rotated.CrossSignaturesNeeded} more by the current root" : string.Empty)}");
            BundleCommands.WriteManifest(outDir, manifest, json: false);
        }

        return ExitCodes.Ok;
    }

    private sealed class CommonOptions(string bundleDescription)
    {
        public Option<string> Bundle { get; } = new("--bundle") { Description = bundleDescription, Required = true };

        public Option<string> Out { get; } = new("--out") { Description = "The new bundle folder to write", Required = true };

        public Option<string[]> AddKey { get; } = new("--add-key") { Description = "A key to add: a key URI on this machine, or a key object file" };

        public Option<string[]> RemoveKey { get; } = new("--remove-key") { Description = "A key id to remove" };

        public Option<int?> Threshold { get; } = new("--threshold") { Description = "The new threshold (default: unchanged)" };

        public Option<string?> Expires { get; } = new("--expires") { Description = "Expiry: a duration (365d) or an RFC 3339 time (default: the policy's maximum)" };

        public Option<string[]> Keys { get; } = new("--key") { Description = "A key URI to sign with (repeat)", Required = true };

        public Option<string?> Socket { get; } = SignCommand.SocketOption();

        public Option<int?> PinFd { get; } = SignCommand.PinFdOption();

        public Option<bool> Yes { get; } = new("--yes") { Description = "Do not ask for confirmation" };

        public Option<bool> Json { get; } = BundleCommands.JsonOption();

        /// <summary>The key changes and the signers given on the command line, written into a rotation request; returns the signers' key URIs.</summary>
        public async Task<string[]> FillAsync(ParseResult p, RepeatedField<string> removeKeyIds, RepeatedField<string> addKeys, RepeatedField<SigningKey> signWith, DaemonSession daemon, BundleManifest manifest, OperatorConsole console, bool root, CancellationToken ct)
        {
            removeKeyIds.AddRange(p.GetValue(RemoveKey) ?? []);
            foreach (var add in p.GetValue(AddKey) ?? [])
            {
                addKeys.Add(await KeyObjectAsync(daemon, add, manifest, console, root, ct).ConfigureAwait(false));
            }

            var signers = p.GetValue(Keys)!;
            signWith.AddRange(signers.Select(k => new SigningKey { KeyUri = k }));
            return signers;
        }

        public void AddTo(Command cmd)
        {
            foreach (var option in new Option[] { Bundle, Out, AddKey, RemoveKey, Threshold, Expires, Keys, Socket, PinFd, Yes, Json })
            {
                cmd.Options.Add(option);
            }
        }
    }
}
