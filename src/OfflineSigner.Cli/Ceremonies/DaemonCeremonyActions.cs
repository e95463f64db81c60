// The air-gapped implementation of the ceremony seams, docs/ceremony.md "The step engine".
using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Bundles;
using OfflineSigner.Ceremony.Engine;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.Protocol.V1;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using Dialect = OfflineSigner.Tuf.Dialect;
using EngineSignRequest = OfflineSigner.Ceremony.Engine.SignRequest;
using KeyAlgorithm = OfflineSigner.Signing.KeyAlgorithm;
using ProtoAlgorithm = OfflineSigner.Protocol.V1.KeyAlgorithm;
using SealRequest = OfflineSigner.Ceremony.Engine.SealRequest;

namespace OfflineSigner.Cli.Ceremonies;

/// <summary>
/// <see cref="ICeremonyActions"/> through offline-signerd only (the CLI never loads a backend): keys are generated on
/// the holder's device (the YubiKey with that serial, slot 9c, or the PKCS#11 token with that serial), their evidence
/// read with Attest, items signed with Preview then Sign on the previewed digest, the transcript sealed with
/// CeremonyService/SealTranscript. Root and delegations are built with the TUF core from the enrolled keys and the
/// online keys of the request bundle ('offline-signer export --new'), and the export writes them, their signatures
/// and every key's evidence into that bundle; the sealed transcript follows once the ceremony is sealed.
/// </summary>
/// <remarks>
/// A ceremony on an existing repository (enroll-key steps, a delegation rotated) takes the bundle
/// 'offline-signer export --repo DIR --role targets --delegation NAME' wrote: its trusted root names the keys holders
/// bring, its targets and delegated role are the versions the ceremony changes and signs. That bundle is left as it
/// is (signing never rewrites an unsigned item); the export step writes a new bundle to <c>bundleOut</c>.
/// </remarks>
internal sealed class DaemonCeremonyActions(DaemonSession daemon, Bundle bundle, string? bundleOut, OperatorConsole console, string ceremonyId, TimeProvider clock, CancellationToken ct) : ICeremonyActions
{
    /// <summary>The PIV slot ceremony keys are generated in (digital signature).</summary>
    public const byte PivSlot = 0x9C;

    /// <summary>The bundle path of the sealed transcript.</summary>
    public const string TranscriptPath = BundleNames.Context + "/ceremony.transcript.jsonl";

    private readonly Dictionary<string, byte[]> built = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> rootCertificateKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> signingRoleOf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]?> previousOf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> delegatorStepOf = new(StringComparer.Ordinal);
    private readonly List<(EngineSignRequest Request, ItemSignature Signature)> made = [];
    private string? rootStep;
    private byte[]? trustedRoot;
    private Bundle? written;

    /// <inheritdoc/>
    public GeneratedKey GenerateKey(KeyGenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var holder = request.Holder;
        var (backend, token) = FindDevice(holder.Device);
        var generate = new GenerateKeyRequest
        {
            Backend = backend.Name,
            TokenLabel = holder.Device.Kind == DeviceKind.YubiKey ? holder.Device.Serial : token.Label,
            Label = holder.Device.Kind == DeviceKind.YubiKey ? "ceremony" : $"{ceremonyId}.{holder.Id}",
            Algorithm = ToProto(request.Algorithm),
        };
        // PIV: the slot; PKCS#11: CKA_ID from the label, as 'keys generate' makes it (a label already used is refused).
        generate.Id = holder.Device.Kind == DeviceKind.YubiKey
            ? ByteString.CopyFrom(PivSlot)
            : ByteString.CopyFrom(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(generate.Label))[..8]);

        var response = WithPin(holder, pin =>
        {
            generate.Pin = pin;
            return daemon.Client.GenerateKeyAsync(generate, DaemonSession.Call(ct)).GetAwaiter().GetResult();
        });
        var key = response.Key;
        if (request.Dialect == Dialect.Notary)
        {
            // A notary root lists x509 root certificates (CN = GUN) made with each key: made now, with the device in
            // the holder's hands, for use when the root is built.
            var gun = bundle.Manifest.Repository.Gun ?? throw new OfflineSignerException("the notary request bundle names no GUN");
            var certificate = WithPin(holder, pin =>
            {
                OperatorConsole.TouchPrompt(key.Uri, key.DeviceSerial);
                return daemon.Client.SignRootCertificateAsync(new SignRootCertificateRequest { KeyUri = key.Uri, Gun = gun, Pin = pin }, DaemonSession.Call(ct)).GetAwaiter().GetResult();
            });
            rootCertificateKeys[key.Uri] = certificate.KeyJson;
        }

        return new GeneratedKey(key.SubjectPublicKeyInfo.ToByteArray(), key.Uri, key.DeviceSerial);
    }

    /// <inheritdoc/>
    public GeneratedKey FindKey(KeyLookupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var holder = request.Holder;
        var (backend, _) = FindDevice(holder.Device);
        var root = Metadata<Root>.Parse(TrustedRoot().Span, dialect: bundle.Manifest.Dialect);
        var listed = root.Signed.RoleKeys(request.Role).Where(k => k.PublicKey is not null).Select(k => k.PublicKey!.Fingerprint).ToHashSet(StringComparer.Ordinal);
        var onDevice = daemon.Client.ListKeysAsync(new ListKeysRequest { Backend = backend.Name }, DaemonSession.Call(ct)).GetAwaiter().GetResult()
            .Keys.Where(k => k.DeviceSerial == holder.Device.Serial).ToList();
        var matches = onDevice.Where(k => listed.Contains(Tuf.Crypto.PublicKey.FromSubjectPublicKeyInfo(k.SubjectPublicKeyInfo.Span).Fingerprint)).ToList();
        return matches.Count switch
        {
            0 => throw new OfflineSignerException($"{holder.Id}'s {holder.Device} holds {onDevice.Count} key(s), none of them a {request.Role} key of the trusted root version {root.Signed.Version}: check that it is the right device, or that the holder is meant to sign for {request.Role}"),
            1 => new GeneratedKey(matches[0].SubjectPublicKeyInfo.ToByteArray(), matches[0].Uri, matches[0].DeviceSerial),
            _ => throw new OfflineSignerException($"{holder.Id}'s {holder.Device} holds {matches.Count} {request.Role} keys of the trusted root ({string.Join(", ", matches.Select(m => m.Uri))}): one key per holder and per device"),
        };
    }

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> TrustedRoot()
    {
        if (trustedRoot is null)
        {
            var file = bundle.Manifest.IsNewRepository ? null : bundle.Manifest.ContextOf("root").SingleOrDefault();
            trustedRoot = file is null
                ? throw new OfflineSignerException("the request bundle carries no trusted root: a ceremony on an existing repository takes the bundle 'offline-signer export --repo DIR --role targets --delegation NAME' wrote")
                : bundle.Read(file.File.Path);
        }

        return trustedRoot;
    }

    /// <inheritdoc/>
    public AttestationEvidence Attest(GeneratedKey key, KeyHolder holder)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(holder);
        var response = daemon.Client.AttestAsync(new AttestRequest { KeyUri = key.KeyReference }, DaemonSession.Call(ct)).GetAwaiter().GetResult();
        switch (response.EvidenceCase)
        {
            case AttestResponse.EvidenceOneofCase.Piv:
                return PivEvidenceVerifier.Encode([.. response.Piv.CertificateChainDer.Select(c => c.ToByteArray())]);
            case AttestResponse.EvidenceOneofCase.Pkcs11:
                var p = response.Pkcs11;
                return Pkcs11AttributeReport.Create(
                    new KeyProtectionEvidence("pkcs11", key.KeyReference, p.Local, p.Sensitive, p.AlwaysSensitive, p.Extractable, p.NeverExtractable, MechanismName(p.KeyGenMechanism)),
                    response.Key.DeviceSerial,
                    response.Key.SubjectPublicKeyInfo.Span);
            default:
                throw new OfflineSignerException($"the daemon returned no attestation evidence for {key.KeyReference}");
        }
    }

    /// <inheritdoc/>
    public BuiltItem BuildRoot(RootPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var dialect = plan.Repository.Dialect;
        if (!bundle.Manifest.IsNewRepository || bundle.Manifest.Items.Count > 0)
        {
            throw new OfflineSignerException("the ceremony's bundle must be a request for a new repository with no items yet ('offline-signer export --new ...')");
        }

        var root = Root.Create(dialect, plan.Expires, consistentSnapshot: true);
        if (plan.Version != 1)
        {
            root.SetVersion(plan.Version);
        }

        foreach (var (role, rolePlan) in plan.Roles)
        {
            foreach (var k in rolePlan.Keys)
            {
                root.AddKey(role, dialect == Dialect.Notary && role == "root"
                    ? Exporter.ParseKey(System.Text.Encoding.UTF8.GetBytes(rootCertificateKeys[k.KeyReference]), dialect)
                    : Key.FromPublicKey(k.PublicKey, dialect));
            }

            root.SetThreshold(role, rolePlan.Threshold);
        }

        foreach (var role in plan.OnlineRoles)
        {
            var file = bundle.Manifest.ContextOf("online-key").FirstOrDefault(c => c.Role == role)
                ?? throw new OfflineSignerException($"the request bundle carries no online key for {role}");
            root.AddKey(role, Exporter.ParseKey(bundle.Read(file.File.Path), dialect));
        }

        var bytes = Metadata<Root>.Create(root).ToBytes();
        built[plan.StepId] = bytes;
        signingRoleOf[plan.StepId] = "root";
        rootStep = plan.StepId;
        return new BuiltItem(plan.StepId, bytes);
    }

    /// <inheritdoc/>
    public BuiltItem BuildDelegation(DelegationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Delegator != "targets")
        {
            throw new OfflineSignerException($"a ceremony run creates and rotates delegations of targets, not of {plan.Delegator}: rotate those with 'offline-signer rotate delegation --delegator {plan.Delegator}'");
        }

        if (plan.Mode == "rotate")
        {
            return BuildRotation(plan);
        }

        if (rootStep is null)
        {
            throw new OfflineSignerException("the delegation's targets needs the root built earlier in the ceremony");
        }

        var dialect = plan.Repository.Dialect;
        var targets = Targets.Create(dialect, plan.Expires);
        targets.AddDelegation(plan.Name, [.. plan.Keys.Select(k => Key.FromPublicKey(k.PublicKey, dialect))], plan.Threshold, plan.Paths, plan.Terminating);
        var bytes = Metadata<Targets>.Create(targets).ToBytes();
        built[plan.StepId] = bytes;
        signingRoleOf[plan.StepId] = "targets";
        return new BuiltItem(plan.StepId, bytes);
    }

    // The request bundle's next targets with the delegation's keys replaced by the ceremony's, at the policy's expiry.
    private BuiltItem BuildRotation(DelegationPlan plan)
    {
        var dialect = plan.Repository.Dialect;
        var item = bundle.Manifest.Items.FirstOrDefault(i => i.Role == "targets" && i.Previous is not null)
            ?? throw new OfflineSignerException($"the request bundle has no next version of targets to rotate \"{plan.Name}\" in: export it with 'offline-signer export --repo DIR --role targets --delegation {plan.Name}'");
        var md = Metadata<Targets>.Parse(bundle.Read(item.File.Path), dialect: dialect);
        var targets = md.Signed;
        var current = targets.Delegations?.FindRole(plan.Name)
            ?? throw new OfflineSignerException($"targets version {targets.Version - 1} has no delegation \"{plan.Name}\" to rotate");
        targets.SetDelegationKeys(plan.Name, [.. plan.Keys.Select(k => Key.FromPublicKey(k.PublicKey, dialect))], plan.Threshold);
        targets.SetExpires(plan.Expires);
        var bytes = Metadata<Targets>.Create(targets).ToBytes();
        built[plan.StepId] = bytes;
        signingRoleOf[plan.StepId] = "targets";
        previousOf[plan.StepId] = bundle.Read(item.Previous!);
        return new BuiltItem(plan.StepId, bytes);
    }

    /// <inheritdoc/>
    public BuiltItem BuildDelegatedRole(DelegatedRolePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var dialect = bundle.Manifest.Dialect;
        var item = bundle.Manifest.Items.FirstOrDefault(i => i.Role == plan.Name)
            ?? throw new OfflineSignerException($"the request bundle has no next version of {plan.Name}: export it with 'offline-signer export --repo DIR --role targets --delegation {plan.Name}'");
        var md = Metadata<Targets>.Parse(bundle.Read(item.File.Path), dialect: dialect);
        md.Signed.SetExpires(plan.Expires);
        var bytes = Metadata<Targets>.Create(md.Signed).ToBytes();
        built[plan.StepId] = bytes;
        signingRoleOf[plan.StepId] = plan.Name;
        previousOf[plan.StepId] = item.Previous is null ? null : bundle.Read(item.Previous);
        delegatorStepOf[plan.StepId] = plan.DelegationStepId;
        return new BuiltItem(plan.StepId, bytes);
    }

    /// <inheritdoc/>
    public ItemSignature Sign(EngineSignRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var keyUri = request.Key.KeyReference;
        var role = signingRoleOf[request.ItemStepId];
        var signing = new SigningRequest { Metadata = ByteString.CopyFrom(built[request.ItemStepId]), Role = role, KeyUri = keyUri };
        if (role != "root")
        {
            signing.TrustedRoot = ByteString.CopyFrom(rootStep is null ? TrustedRoot().Span : built[rootStep]);
        }

        if (previousOf.GetValueOrDefault(request.ItemStepId) is { } previous)
        {
            signing.Previous = ByteString.CopyFrom(previous);
        }

        if (delegatorStepOf.TryGetValue(request.ItemStepId, out var delegatorStep))
        {
            signing.Delegator = ByteString.CopyFrom(built[delegatorStep]);
        }

        if (request.Item.Dialect == Dialect.Notary)
        {
            signing.Gun = bundle.Manifest.Repository.Gun ?? string.Empty;
        }

        var info = daemon.KeyAsync(keyUri, request.Item.Dialect, ct).GetAwaiter().GetResult();
        var preview = daemon.Client.PreviewAsync(signing, DaemonSession.Call(ct)).GetAwaiter().GetResult();
        var expected = SHA256.HashData(request.Item.SignedBytes());
        if (!CryptographicOperations.FixedTimeEquals(preview.SignedSha256.Span, expected))
        {
            throw new OfflineSignerException($"the daemon would sign bytes with SHA-256 {Convert.ToHexStringLower(preview.SignedSha256.Span)}, not the {Convert.ToHexStringLower(expected)} shown in the ceremony; nothing was signed");
        }

        console.Info($"daemon preview for {request.Holder.Id}: {role} version {preview.Version}, key id {preview.KeyId}{(preview.Warnings.Count > 0 ? "; warnings: " + string.Join("; ", preview.Warnings) : string.Empty)}");
        var response = WithPin(request.Holder, pin =>
        {
            OperatorConsole.TouchPrompt(keyUri, info.DeviceSerial);
            return daemon.Client.SignAsync(new Protocol.V1.SignRequest { Request = signing, ExpectedSha256 = preview.SignedSha256, Pin = pin }, DaemonSession.Call(ct)).GetAwaiter().GetResult();
        });
        var signature = new ItemSignature(response.KeyId, response.Signature.ToByteArray(), response.Method.Length > 0 ? response.Method : null, info.DeviceSerial);
        made.Add((request, signature));
        return signature;
    }

    /// <inheritdoc/>
    public ExportedBundle Export(Ceremony.Engine.ExportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (rootStep is null)
        {
            return ExportRotation(request);
        }

        var manifest = bundle.Manifest;
        var builder = BundleBuilder.From(manifest, bundle);
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        string? rootPath = null;
        foreach (var item in request.Items.OrderBy(i => i.StepId == rootStep ? 0 : 1))
        {
            var role = signingRoleOf[item.StepId];
            var unsigned = MetadataReader.Parse(built[item.StepId]);
            var path = role == "root"
                ? builder.AddItem("root", unsigned, BundleNames.ItemPath(BundleManifest.ItemId(builder.ItemCount)), null, null)
                : builder.AddItem(role, unsigned, rootPath ?? throw new OfflineSignerException("the bundle's targets needs the ceremony's root in the same bundle"), null, null);
            rootPath ??= role == "root" ? path : null;
            paths[item.StepId] = path;
        }

        foreach (var e in request.Evidence)
        {
            var extension = e.Evidence.Format == PivEvidenceVerifier.PivFormat ? "pem" : "json";
            builder.AddContext(BundleManifest.AttestationKind, e.Key.Holder.Id, 0, e.Evidence.Bytes.ToArray(), $"attestation.{e.Key.Holder.Id}.{extension}");
        }

        var next = builder.Manifest(manifest.Created);
        var now = clock.GetUtcNow();
        bundle.AddItems(next, builder.NewContent(manifest), now, ("ceremony_id", ceremonyId), ("items", request.Items.Count.ToString(CultureInfo.InvariantCulture)), ("evidence", request.Evidence.Count.ToString(CultureInfo.InvariantCulture)));
        bundle.AddSignatures(Detached(next, request, paths, now), now);
        var manifestBytes = File.ReadAllBytes(Path.Combine(bundle.Dir, BundleNames.Manifest));
        return new ExportedBundle(next.BundleId, Convert.ToHexStringLower(SHA256.HashData(manifestBytes)), bundle.Dir);
    }

    // A ceremony on an existing repository: a new bundle against the request's trusted root, with targets first (the
    // delegator of the delegated roles after it), each item's current version for the diff, the signatures and evidence.
    private ExportedBundle ExportRotation(Ceremony.Engine.ExportRequest request)
    {
        var outDir = bundleOut ?? throw new OfflineSignerException("a ceremony on an existing repository writes a new bundle: give --bundle-out DIR");
        var manifest = bundle.Manifest;
        var rootBytes = TrustedRoot().ToArray();
        var builder = new BundleBuilder(manifest.Dialect, manifest.Repository.Name, manifest.Repository.Gun, Metadata<Root>.Parse(rootBytes, dialect: manifest.Dialect), rootBytes);
        var trusted = builder.AddTrustedRoot();
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in request.Items.OrderBy(i => signingRoleOf[i.StepId] == "targets" ? 0 : 1))
        {
            var role = signingRoleOf[item.StepId];
            var unsigned = MetadataReader.Parse(built[item.StepId], dialect: manifest.Dialect);
            string? delegatorPath = null;
            if (role != "targets")
            {
                delegatorPath = builder.DelegatorPathFor("targets")
                    ?? throw new OfflineSignerException($"{role} leaves only with the targets that delegates to it: export the delegation step's item with it");
            }

            var path = builder.AddItem(role, unsigned, trusted, previousOf.GetValueOrDefault(item.StepId), delegatorPath);
            if (role == "targets")
            {
                builder.UseItemAsDelegator("targets", path);
            }

            paths[item.StepId] = path;
        }

        foreach (var e in request.Evidence)
        {
            var extension = e.Evidence.Format == PivEvidenceVerifier.PivFormat ? "pem" : "json";
            builder.AddContext(BundleManifest.AttestationKind, e.Key.Holder.Id, 0, e.Evidence.Bytes.ToArray(), $"attestation.{e.Key.Holder.Id}.{extension}");
        }

        var now = clock.GetUtcNow();
        var written = builder.Write(outDir, now, ("ceremony_id", ceremonyId), ("from", "ceremony"), ("request_bundle", manifest.BundleId));
        this.written = Bundle.Open(outDir);
        this.written.AddSignatures(Detached(written, request, paths, now), now);
        var manifestBytes = File.ReadAllBytes(Path.Combine(this.written.Dir, BundleNames.Manifest));
        return new ExportedBundle(written.BundleId, Convert.ToHexStringLower(SHA256.HashData(manifestBytes)), this.written.Dir);
    }

    // Every signature made in the ceremony over the exported items, as detached signatures of the bundle written.
    private List<DetachedSignature> Detached(BundleManifest written, Ceremony.Engine.ExportRequest request, Dictionary<string, string> paths, DateTimeOffset now)
    {
        var detached = new List<DetachedSignature>();
        foreach (var item in request.Items)
        {
            var bundleItem = written.Items.Single(i => i.File.Path == paths[item.StepId]);
            foreach (var (req, sig) in made.Where(m => m.Request.ItemStepId == item.StepId))
            {
                detached.Add(new DetachedSignature(
                    written.BundleId, bundleItem.Id, bundleItem.Role, bundleItem.Version, bundleItem.SignedSha256, sig.KeyId, sig.Signature.ToArray(), sig.Method,
                    req.Key.KeyReference, sig.DeviceSerial, req.Holder.Name, now));
            }
        }

        return detached;
    }

    /// <inheritdoc/>
    public void AttachTranscript(ExportedBundle exported, ReadOnlyMemory<byte> sealedTranscript)
    {
        ArgumentNullException.ThrowIfNull(exported);
        var bytes = sealedTranscript.ToArray();
        var file = new ContextFile(BundleManifest.CeremonyTranscriptKind, "ceremony", 0, new BundleFile(TranscriptPath, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        (written ?? bundle).AddContext([(file, bytes)], clock.GetUtcNow(), "ceremony-sealed", ("ceremony_id", ceremonyId), ("transcript_sha256", file.File.Sha256));
    }

    /// <inheritdoc/>
    public byte[] Seal(SealRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var keyUri = request.Key.KeyReference;
        var response = WithPin(request.Key.Holder, pin =>
        {
            OperatorConsole.TouchPrompt(keyUri, request.Key.DeviceSerial);
            return daemon.Client.SealTranscriptAsync(
                new SealTranscriptRequest { Transcript = ByteString.CopyFrom(request.Transcript.Span), KeyUri = keyUri, SealedAt = request.SealedAt, Pin = pin },
                DaemonSession.Call(ct)).GetAwaiter().GetResult();
        });
        if (!response.Statement.Span.SequenceEqual(request.Statement()))
        {
            throw new OfflineSignerException($"the daemon sealed another statement than the transcript's (it covers line {response.CoversSeq}, {response.CoversSha256}; the transcript's last line is {request.CoversSeq}, {request.CoversSha256})");
        }

        return response.Signature.ToByteArray();
    }

    private T WithPin<T>(KeyHolder holder, Func<ByteString, T> call)
    {
        var pin = console.ReadPin($"{holder.Name}'s {holder.Device}");
        try
        {
            return call(UnsafeByteOperations.UnsafeWrap(pin));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pin);
        }
    }

    private (Backend Backend, Token Token) FindDevice(Device device)
    {
        var kind = device.Kind == DeviceKind.YubiKey ? "yubikey" : "pkcs11";
        var backends = daemon.Client.ListBackendsAsync(new ListBackendsRequest(), DaemonSession.Call(ct)).GetAwaiter().GetResult();
        foreach (var b in backends.Backends.Where(b => b.Kind == kind))
        {
            if (b.Tokens.FirstOrDefault(t => t.Serial == device.Serial) is { } token)
            {
                return (b, token);
            }
        }

        throw new OfflineSignerException($"the daemon has no {kind} backend with the {device} inserted: insert it (and check that the daemon's configuration names it), then run the ceremony again with a new transcript");
    }

    private static ProtoAlgorithm ToProto(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => ProtoAlgorithm.EcdsaP256,
        KeyAlgorithm.EcdsaP384 => ProtoAlgorithm.EcdsaP384,
        KeyAlgorithm.Ed25519 => ProtoAlgorithm.Ed25519,
        KeyAlgorithm.Rsa2048 => ProtoAlgorithm.Rsa2048,
        KeyAlgorithm.Rsa3072 => ProtoAlgorithm.Rsa3072,
        _ => ProtoAlgorithm.Rsa4096,
    };

    private static string? MechanismName(ulong mechanism) => mechanism switch
    {
        0x0000 => "CKM_RSA_PKCS_KEY_PAIR_GEN",
        0x1040 => "CKM_EC_KEY_PAIR_GEN",
        0x1055 => "CKM_EC_EDWARDS_KEY_PAIR_GEN",
        _ => null,
    };
}
