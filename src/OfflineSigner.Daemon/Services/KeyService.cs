using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Protocol.V1;

namespace OfflineSigner.Daemon.Services;

/// <summary>KeyService: backends, keys (public parts and protection evidence only), generation with self-test.</summary>
public sealed class KeyService(KeyBackends backends, KeyDirectory keys, IAuditLog audit)
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Descriptor = KeysReflection.Descriptor.Services.Single(s => s.Name == "KeyService");

    /// <summary>Registers ListBackends, ListKeys, GenerateKey and GetPublicKey.</summary>
    public void Register(IGrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<ListBackendsRequest, ListBackendsResponse>(Descriptor, "ListBackends", (r, c) => Task.FromResult(ListBackends(r, c)));
        registry.AddUnary<ListKeysRequest, ListKeysResponse>(Descriptor, "ListKeys", (r, c) => Task.FromResult(ListKeys(r, c)));
        registry.AddUnary<GenerateKeyRequest, GenerateKeyResponse>(Descriptor, "GenerateKey", (r, c) => Task.FromResult(GenerateKey(r, c)));
        registry.AddUnary<GetPublicKeyRequest, GetPublicKeyResponse>(Descriptor, "GetPublicKey", (r, c) => Task.FromResult(GetPublicKey(r, c)));
    }

    public ListBackendsResponse ListBackends(ListBackendsRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ServiceGuard.Run(audit, context, new CallFacts(), () =>
        {
            var response = new ListBackendsResponse();
            foreach (var backend in backends.All)
            {
                var message = new Backend { Name = backend.Name, Kind = backend.Kind, Module = backend.ModulePath ?? string.Empty };
                foreach (var device in backend.Devices())
                {
                    message.Tokens.Add(new Token
                    {
                        Label = device.Label,
                        Serial = device.Serial,
                        Manufacturer = device.Manufacturer,
                        Model = device.Model,
                        UserPinInitialized = device.UserPinInitialized,
                        UserPinLocked = device.PinLocked,
                        UserPinCountLow = device.PinCountLow,
                        UserPinFinalTry = device.PinFinalTry,
                    });
                }

                response.Backends.Add(message);
            }

            return response;
        });
    }

    /// <summary>
    /// The keys of one backend (or all). Without a PIN a token shows no private keys, so the list is the keys the
    /// backend shows (with its configured PIN source, if any) plus those this daemon has already read.
    /// </summary>
    public ListKeysResponse ListKeys(ListKeysRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        return ServiceGuard.Run(audit, context, new CallFacts(Backend: request.Backend), () =>
        {
            var selected = string.IsNullOrEmpty(request.Backend) ? backends.All : [backends.ByName(request.Backend)];
            var response = new ListKeysResponse();
            foreach (var backend in selected)
            {
                IReadOnlyList<BackendKey> found;
                try
                {
                    found = backend.ListKeys([]);
                }
                catch (Pkcs11.Pkcs11PinException)
                {
                    // No PIN source configured: only the keys already read with an operator's PIN can be listed.
                    found = [];
                }

                foreach (var key in found)
                {
                    keys.Remember(key);
                }

                response.Keys.AddRange(keys.ForBackend(backend.Name).Select(KeyObjects.ToProto));
            }

            return response;
        });
    }

    /// <summary>Generates a key, self-tests it, records it in the audit log, and returns its public parts.</summary>
    public GenerateKeyResponse GenerateKey(GenerateKeyRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return ServiceGuard.Run(audit, context, new CallFacts(Backend: request.Backend), () =>
            {
                if (string.IsNullOrWhiteSpace(request.Label) || request.Id.IsEmpty)
                {
                    throw new ArgumentException("a new key needs a label and an id");
                }

                var backend = backends.ByName(request.Backend);
                var key = backend.Generate(request.TokenLabel, KeyObjects.ToAlgorithm(request.Algorithm), request.Label, request.Id.Span, request.Pin.Span);
                keys.Remember(key);
                var info = KeyObjects.ToProto(key);
                audit.Append(new AuditEvent(AuditEventKind.KeyGenerated)
                {
                    KeyId = info.TufKeyId,
                    KeyUri = key.Uri,
                    Backend = backend.Name,
                    DeviceSerial = key.DeviceSerial,
                    CallerUid = context.Uid,
                    Detail = $"{key.Algorithm}, notary key id {info.NotaryKeyId}",
                });
                return new GenerateKeyResponse { Key = info };
            });
        }
        finally
        {
            ServiceGuard.Wipe(request.Pin);
        }
    }

    /// <summary>The key object and key id in the requested dialect.</summary>
    public GetPublicKeyResponse GetPublicKey(GetPublicKeyRequest request, CallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        return ServiceGuard.Run(audit, context, new CallFacts(request.KeyUri), () =>
        {
            var dialect = KeyObjects.ToDialect(request.Dialect);
            var key = keys.Resolve(backends, request.KeyUri);
            var (json, id) = KeyObjects.KeyObject(key.SubjectPublicKeyInfo, dialect);
            return new GetPublicKeyResponse { KeyJson = json, KeyId = id, Key = KeyObjects.ToProto(key) };
        });
    }
}
