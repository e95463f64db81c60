using System.CommandLine;
using OfflineSigner.Bundles;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Commands;

/// <summary>
/// <c>offline-signer ceremony init-root</c>: the first root (and first targets) of a new repository, built on the
/// air-gapped machine from keys the daemon holds and the online keys the request bundle brought, in the bundle's
/// dialect. The root keys then sign in turn with <c>sign</c>; the online side imports the bundle.
/// </summary>
internal static class InitRootCommand
{
    private static readonly string[] OnlineRoles = ["snapshot", "timestamp"];

    public static Command Create()
    {
        var bundle = new Option<string>("--bundle") { Description = "The request bundle from 'export --new' (on the USB stick)", Required = true };
        var rootKeys = new Option<string[]>("--root-key") { Description = "A root key URI on this machine (repeat: one per key holder)", Required = true };
        var threshold = new Option<int>("--threshold") { Description = "How many root keys must sign (default 1)", DefaultValueFactory = _ => 1 };
        var targetsKeys = new Option<string[]>("--targets-key") { Description = "A targets key URI (repeat; default: the online targets key the request bundle carries, else the root keys)" };
        var targetsThreshold = new Option<int>("--targets-threshold") { Description = "How many targets keys must sign (default 1)", DefaultValueFactory = _ => 1 };
        var expires = new Option<string?>("--expires") { Description = "Expiry of the first root (default 365d); targets get 90d" };
        var socket = SignCommand.SocketOption();
        var pinFd = SignCommand.PinFdOption();
        var json = BundleCommands.JsonOption();
        var init = new Command("init-root", "Build the first root and targets of a new repository into a request bundle: root keys from this machine's daemon (notary: x509 certificates, CN = GUN, signed by each key), online keys from the bundle. Sign it afterwards with 'offline-signer sign' for each root key.\n" + ExitCodes.Help)
        {
            bundle, rootKeys, threshold, targetsKeys, targetsThreshold, expires, socket, pinFd, json,
        };
        init.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(async () =>
        {
            var b = Bundle.Open(p.GetValue(bundle)!);
            var manifest = b.Manifest;
            if (!manifest.IsNewRepository || manifest.Items.Count > 0)
            {
                throw new OfflineSignerException("init-root takes a request bundle for a new repository ('offline-signer export --new ...'), with no items yet");
            }

            var dialect = manifest.Dialect;
            var now = DateTimeOffset.UtcNow;
            var request = new ExportRequest { Expires = p.GetValue(expires) };
            var root = Root.Create(dialect, Exporter.ExpiresFor(request, now, "root"), consistentSnapshot: true);
            using var daemon = new DaemonSession(DaemonSession.SocketFrom(p.GetValue(socket)));
            var offlineTargets = true;
            var console = new OperatorConsole(true, p.GetValue(pinFd), p.GetValue(json));
            try
            {
                var rootUris = p.GetValue(rootKeys)!;
                foreach (var uri in rootUris)
                {
                    var (keyJson, _) = dialect == Dialect.Notary
                        ? await KeysCommand.RootCertificateKeyAsync(daemon, uri, manifest.Repository.Gun!, console, ct).ConfigureAwait(false)
                        : await KeysCommand.PublicKeyAsync(daemon, uri, dialect, ct).ConfigureAwait(false);
                    root.AddKey("root", Exporter.ParseKey(System.Text.Encoding.UTF8.GetBytes(keyJson), dialect));
                }

                var onlineTargets = manifest.ContextOf("online-key").FirstOrDefault(c => c.Role == "targets");
                var targetsUris = p.GetValue(targetsKeys) is { Length: > 0 } t ? t : onlineTargets is null ? rootUris : [];
                foreach (var uri in targetsUris)
                {
                    var (keyJson, _) = await KeysCommand.PublicKeyAsync(daemon, uri, dialect, ct).ConfigureAwait(false);
                    var key = Exporter.ParseKey(System.Text.Encoding.UTF8.GetBytes(keyJson), dialect);
                    if (!root.Roles["targets"].KeyIds.Contains(key.KeyId))
                    {
                        root.AddKey("targets", key);
                    }
                }

                if (targetsUris.Length == 0)
                {
                    // The targets key is online (notary's repository key): the first targets is made at import.
                    root.AddKey("targets", Exporter.ParseKey(b.Read(onlineTargets!.File.Path), dialect));
                    offlineTargets = false;
                }
            }
            finally
            {
                console.Wipe();
            }

            foreach (var role in OnlineRoles)
            {
                var file = manifest.ContextOf("online-key").FirstOrDefault(c => c.Role == role)
                    ?? throw new OfflineSignerException($"the request bundle carries no online key for {role}");
                root.AddKey(role, Exporter.ParseKey(b.Read(file.File.Path), dialect));
            }

            SetThreshold(root, "root", p.GetValue(threshold));
            SetThreshold(root, "targets", p.GetValue(targetsThreshold));
            var builder = BundleBuilder.From(manifest, b);
            var rootMd = Metadata<Root>.Create(root).As<Signed>();
            var rootPath = BundleNames.ItemPath(BundleManifest.ItemId(0));
            builder.AddItem("root", rootMd, rootPath, null, null);
            if (offlineTargets)
            {
                var targets = Targets.Create(dialect, Exporter.ExpiresFor(new ExportRequest(), now, "targets"));
                builder.AddItem("targets", Metadata<Targets>.Create(targets).As<Signed>(), rootPath, null, null);
            }
            var next = builder.Manifest(manifest.Created);
            b.AddItems(next, builder.NewContent(manifest), now, ("root_keys", string.Join(",", root.Roles["root"].KeyIds)), ("threshold", p.GetValue(threshold).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            BundleCommands.WriteManifest(b.Dir, next, p.GetValue(json));
            return ExitCodes.Ok;
        })));
        return init;
    }

    private static void SetThreshold(Root root, string role, int threshold)
    {
        var keys = root.Roles[role].KeyIds.Count;
        if (threshold < 1 || threshold > keys)
        {
            throw new OfflineSignerException($"the {role} threshold {threshold} cannot be met by {keys} key(s)");
        }

        root.SetThreshold(role, threshold);
    }
}
