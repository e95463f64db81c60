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
internal sealed class DaemonCeremonyActions(DaemonSession daemon, Bundle bundle, OperatorConsole console, string ceremonyId, TimeProvider clock, CancellationToken ct) : ICeremonyActions
{
    /// <summary>The PIV slot ceremony keys are generated in (digital signature).</summary>
    public const byte PivSlot = 0x9C;

    /// <summary>The bundle path of the sealed transcript.</summary>
    public const string TranscriptPath = BundleNames.Context + "/ceremony.transcript.jsonl";

    private readonly Dictionary<string, byte[]> built = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> rootCertificateKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> signingRoleOf = new(StringComparer.Ordinal);
    private readonly List<(EngineSignRequest Request, ItemSignature Signature)> made = [];
    private string? rootStep;

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
        if (plan.Mode != "create" || plan.Delegator != "targets")
        {
            throw new OfflineSignerException($"a ceremony run creates delegations of the first targets (mode create, delegator targets), not {plan.Mode} of {plan.Delegator}: rotate later with 'offline-signer rotate delegation'");
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

    /// <inheritdoc/>
    public ItemSignature Sign(EngineSignRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var keyUri = request.Key.KeyReference;
        var role = signingRoleOf[request.ItemStepId];
        var signing = new SigningRequest { Metadata = ByteString.CopyFrom(built[request.ItemStepId]), Role = role, KeyUri = keyUri };
        if (role != "root")
        {
            signing.TrustedRoot = ByteString.CopyFrom(built[rootStep!]);
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
        var detached = new List<DetachedSignature>();
        foreach (var item in request.Items)
        {
            var bundleItem = next.Items.Single(i => i.File.Path == paths[item.StepId]);
            foreach (var (req, sig) in made.Where(m => m.Request.ItemStepId == item.StepId))
            {
                detached.Add(new DetachedSignature(
                    next.BundleId, bundleItem.Id, bundleItem.Role, bundleItem.Version, bundleItem.SignedSha256, sig.KeyId, sig.Signature.ToArray(), sig.Method,
                    req.Key.KeyReference, sig.DeviceSerial, req.Holder.Name, now));
            }
        }

        bundle.AddSignatures(detached, now);
        var manifestBytes = File.ReadAllBytes(Path.Combine(bundle.Dir, BundleNames.Manifest));
        return new ExportedBundle(next.BundleId, Convert.ToHexStringLower(SHA256.HashData(manifestBytes)), bundle.Dir);
    }

    /// <inheritdoc/>
    public void AttachTranscript(ExportedBundle exported, ReadOnlyMemory<byte> sealedTranscript)
    {
        ArgumentNullException.ThrowIfNull(exported);
        var bytes = sealedTranscript.ToArray();
        var file = new ContextFile(BundleManifest.CeremonyTranscriptKind, "ceremony", 0, new BundleFile(TranscriptPath, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        bundle.AddContext([(file, bytes)], clock.GetUtcNow(), "ceremony-sealed", ("ceremony_id", ceremonyId), ("transcript_sha256", file.File.Sha256));
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
