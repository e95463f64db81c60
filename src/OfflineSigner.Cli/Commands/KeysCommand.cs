using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Cli.Commands;

/// <summary><c>offline-signer keys list | generate | public | attest</c>: the daemon's keys, on the air-gapped machine.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var cmd = new Command("keys", "The daemon's keys: list them, generate one on a device, write a public key for a bundle, show attestation evidence.\n" + ExitCodes.Help);
        cmd.Subcommands.Add(List());
        cmd.Subcommands.Add(Generate());
        cmd.Subcommands.Add(Public());
        cmd.Subcommands.Add(Attest());
        return cmd;
    }

    private static Command List()
    {
        var socket = SignCommand.SocketOption();
        var backend = new Option<string?>("--backend") { Description = "Only this backend (its configuration name)" };
        var json = BundleCommands.JsonOption();
        var cmd = new Command("list", "List the keys of every backend: URI, algorithm, fingerprint, TUF key id, device serial, protection.\n" + ExitCodes.Help) { socket, backend, json };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(socket)));
            var keys = await daemon.Client.ListKeysAsync(new ListKeysRequest { Backend = p.GetValue(backend) ?? string.Empty }, DaemonSession.Call(ct)).ConfigureAwait(false);
            if (p.GetValue(json))
            {
                CommandSupport.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("keys");
                    foreach (var k in keys.Keys)
                    {
                        WriteKey(w, k);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            }
            else
            {
                foreach (var k in keys.Keys)
                {
                    Console.WriteLine($"{k.Uri}\n  {k.Algorithm} fingerprint {k.Fingerprint}\n  tuf key id {k.TufKeyId}, notary key id {k.NotaryKeyId}, backend {k.Backend}, device serial {(k.DeviceSerial.Length > 0 ? k.DeviceSerial : "-")}{Protection(k)}");
                }

                if (keys.Keys.Count == 0)
                {
                    Console.WriteLine("no keys: generate one with 'offline-signer keys generate --backend NAME --token LABEL --label LABEL'");
                }
            }

            return ExitCodes.Ok;
        })));
        return cmd;
    }

    private static Command Generate()
    {
        var socket = SignCommand.SocketOption();
        var backend = new Option<string>("--backend") { Description = "The backend (configuration name)", Required = true };
        var token = new Option<string?>("--token") { Description = "The token label inside the backend (default: its only token)" };
        var label = new Option<string>("--label") { Description = "The new key's label (CKA_LABEL); refused when it is taken", Required = true };
        var id = new Option<string?>("--id") { Description = "The new key's id in hex (CKA_ID; default: derived from the label)" };
        var algorithm = new Option<string>("--algorithm") { Description = "ecdsa-p256 (default), ecdsa-p384, ed25519, rsa-3072, rsa-4096", DefaultValueFactory = _ => "ecdsa-p256" };
        var pinFd = SignCommand.PinFdOption();
        var json = BundleCommands.JsonOption();
        var cmd = new Command("generate", "Generate a key on a device (never exported), self-tested by the daemon and recorded in its audit log.\n" + ExitCodes.Help)
        {
            socket, backend, token, label, id, algorithm, pinFd, json,
        };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            var alg = p.GetValue(algorithm) switch
            {
                "ecdsa-p256" => KeyAlgorithm.EcdsaP256,
                "ecdsa-p384" => KeyAlgorithm.EcdsaP384,
                "ed25519" => KeyAlgorithm.Ed25519,
                "rsa-3072" => KeyAlgorithm.Rsa3072,
                "rsa-4096" => KeyAlgorithm.Rsa4096,
                var other => throw new OfflineSignerException($"--algorithm: '{other}' is not one of ecdsa-p256, ecdsa-p384, ed25519, rsa-3072, rsa-4096"),
            };
            var labelText = p.GetValue(label)!;
            var idBytes = p.GetValue(id) is { } hex ? Convert.FromHexString(hex) : SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(labelText))[..8];
            var console = new OperatorConsole(true, p.GetValue(pinFd), p.GetValue(json));
            var pin = console.ReadPin($"token {p.GetValue(token) ?? p.GetValue(backend)}");
            try
            {
                using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(socket)));
                var response = await daemon.Client.GenerateKeyAsync(
                    new GenerateKeyRequest
                    {
                        Backend = p.GetValue(backend)!,
                        TokenLabel = p.GetValue(token) ?? string.Empty,
                        Label = labelText,
                        Id = ByteString.CopyFrom(idBytes),
                        Algorithm = alg,
                        Pin = UnsafeByteOperations.UnsafeWrap(pin),
                    },
                    DaemonSession.Call(ct)).ConfigureAwait(false);
                if (p.GetValue(json))
                {
                    CommandSupport.WriteJson(w => WriteKey(w, response.Key));
                }
                else
                {
                    Console.WriteLine($"generated {response.Key.Uri}\n  {response.Key.Algorithm} fingerprint {response.Key.Fingerprint}, tuf key id {response.Key.TufKeyId}{Protection(response.Key)}");
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pin);
                console.Wipe();
            }

            return ExitCodes.Ok;
        })));
        return cmd;
    }

    private static Command Public()
    {
        var socket = SignCommand.SocketOption();
        var key = new Option<string>("--key") { Description = "The key's URI", Required = true };
        var dialect = new Option<string>("--dialect") { Description = "tuf (default) or notary", DefaultValueFactory = _ => "tuf" };
        var gun = new Option<string?>("--gun") { Description = "Notary root keys: make the x509 root certificate (CN = GUN) with the key (asks for the PIN)" };
        var certificate = new Option<string?>("--certificate") { Description = "Notary delegation keys: make an x509 certificate with CN = NAME with the key, as `docker trust signer add` takes one (asks for the PIN)" };
        var output = new Option<string>("--out") { Description = "The key object file to write (for 'export --add-key' or 'ceremony init-root')", Required = true };
        var pinFd = SignCommand.PinFdOption();
        var json = BundleCommands.JsonOption();
        var cmd = new Command("public", "Write a key's public key object in a dialect, to carry to the online side (--add-key). With --gun, a notary root certificate made by the key.\n" + ExitCodes.Help)
        {
            socket, key, dialect, gun, certificate, output, pinFd, json,
        };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(socket)));
            var d = p.GetValue(dialect) switch
            {
                "tuf" => Tuf.Dialect.TufSpecification,
                "notary" => Tuf.Dialect.Notary,
                var other => throw new OfflineSignerException($"--dialect: '{other}' is neither tuf nor notary"),
            };
            if (p.GetValue(gun) is not null && p.GetValue(certificate) is not null)
            {
                throw new OfflineSignerException("--gun (a root certificate) and --certificate (a delegation certificate) exclude each other");
            }

            var (keyJson, keyId) = (p.GetValue(gun) ?? p.GetValue(certificate)) is { } cn
                ? await RootCertificateKeyAsync(daemon, p.GetValue(key)!, cn, new OperatorConsole(true, p.GetValue(pinFd), true), ct).ConfigureAwait(false)
                : await PublicKeyAsync(daemon, p.GetValue(key)!, d, ct).ConfigureAwait(false);
            AtomicFile.Write(p.GetValue(output)!, System.Text.Encoding.UTF8.GetBytes(keyJson + "\n"));
            if (p.GetValue(json))
            {
                CommandSupport.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("key_id", keyId);
                    w.WriteString("file", p.GetValue(output));
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.WriteLine($"wrote key {keyId} to {p.GetValue(output)}");
            }

            return ExitCodes.Ok;
        })));
        return cmd;
    }

    private static Command Attest()
    {
        var socket = SignCommand.SocketOption();
        var key = new Option<string>("--key") { Description = "The key's URI", Required = true };
        var json = BundleCommands.JsonOption();
        var cmd = new Command("attest", "Show the evidence that a key was generated on its device and cannot leave it (PKCS#11 attributes, or a PIV attestation chain). Exit 1 when it does not meet the daemon's policy.\n" + ExitCodes.Help) { socket, key, json };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(socket)));
            var r = await daemon.Client.AttestAsync(new AttestRequest { KeyUri = p.GetValue(key)! }, DaemonSession.Call(ct)).ConfigureAwait(false);
            if (p.GetValue(json))
            {
                CommandSupport.WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("key_uri", r.Key.Uri);
                    w.WriteBoolean("meets_policy", r.MeetsPolicy);
                    w.WriteString("summary", r.Summary);
                    CommandSupport.WriteStrings(w, "violations", r.Violations);
                    w.WriteString("evidence_sha256", Convert.ToHexStringLower(r.EvidenceSha256.Span));
                    w.WriteEndObject();
                });
            }
            else
            {
                Console.WriteLine($"{r.Key.Uri}: {(r.MeetsPolicy ? "meets the policy" : "DOES NOT meet the policy")}\n  {r.Summary}");
                foreach (var v in r.Violations)
                {
                    Console.WriteLine("  violation: " + v);
                }
            }

            return r.MeetsPolicy ? ExitCodes.Ok : ExitCodes.VerificationFailed;
        })));
        return cmd;
    }

    public static async Task<(string Json, string KeyId)> PublicKeyAsync(DaemonSession daemon, string keyUri, Tuf.Dialect dialect, CancellationToken ct)
    {
        var r = await daemon.Client.GetPublicKeyAsync(new GetPublicKeyRequest { KeyUri = keyUri, Dialect = DaemonSession.ToProto(dialect) }, DaemonSession.Call(ct)).ConfigureAwait(false);
        return (r.KeyJson, r.KeyId);
    }

    /// <summary>A notary root key: the x509 certificate (CN = GUN) the key signs through the daemon.</summary>
    public static async Task<(string Json, string KeyId)> RootCertificateKeyAsync(DaemonSession daemon, string keyUri, string gun, OperatorConsole console, CancellationToken ct)
    {
        var pin = console.ReadPin(keyUri);
        try
        {
            var r = await daemon.Client.SignRootCertificateAsync(new SignRootCertificateRequest { KeyUri = keyUri, Gun = gun, Pin = UnsafeByteOperations.UnsafeWrap(pin) }, DaemonSession.Call(ct)).ConfigureAwait(false);
            return (r.KeyJson, r.KeyId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pin);
        }
    }

    private static string Protection(KeyInfo k) => k.Pkcs11Protection is { } p
        ? string.Create(CultureInfo.InvariantCulture, $"\n  protection: local={p.Local} sensitive={p.Sensitive} always_sensitive={p.AlwaysSensitive} extractable={p.Extractable} never_extractable={p.NeverExtractable}{(p.Violations.Count > 0 ? " VIOLATIONS: " + string.Join("; ", p.Violations) : string.Empty)}")
        : string.Empty;

    private static void WriteKey(System.Text.Json.Utf8JsonWriter w, KeyInfo k)
    {
        w.WriteStartObject();
        w.WriteString("uri", k.Uri);
        w.WriteString("backend", k.Backend);
        w.WriteString("algorithm", k.Algorithm.ToString());
        w.WriteString("fingerprint", k.Fingerprint);
        w.WriteString("tuf_key_id", k.TufKeyId);
        w.WriteString("notary_key_id", k.NotaryKeyId);
        w.WriteString("device_serial", k.DeviceSerial);
        w.WriteString("label", k.Label);
        w.WriteEndObject();
    }
}
