using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Pkcs11;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.YubiKey;

namespace OfflineSigner.Daemon.Services;

/// <summary>
/// The one place where domain exceptions become gRPC statuses. Messages are the exceptions' own (they never carry a
/// PIN or a payload); anything unexpected becomes INTERNAL with a fixed message, so no stack trace crosses the socket.
/// </summary>
public static class RpcErrors
{
    /// <summary>The status and message for <paramref name="exception"/>.</summary>
    public static RpcException ToRpc(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            RpcException rpc => rpc,
            PolicyViolationException policy => new RpcException(StatusCode.FailedPrecondition, policy.Message, policy),
            Pkcs11PinException pin => new RpcException(
                pin.Status == PinRetryStatus.Locked ? StatusCode.PermissionDenied : StatusCode.Unauthenticated,
                pin.Message,
                pin),
            PivPinException pin => new RpcException(pin.Blocked ? StatusCode.PermissionDenied : StatusCode.Unauthenticated, pin.Message, pin),
            YubiKeyNotPresentException missing => new RpcException(StatusCode.FailedPrecondition, missing.Message, missing),
            YubiKeyRemovedException removed => new RpcException(StatusCode.Unavailable, removed.Message, removed),
            PivNotFoundException notFound => new RpcException(StatusCode.NotFound, notFound.Message, notFound),
            PivSecurityStatusException or PivAttestationException or PivSlotOccupiedException => new RpcException(StatusCode.FailedPrecondition, exception.Message, exception),
            KeyProtectionException protection => new RpcException(StatusCode.FailedPrecondition, "policy rule 'key-protection': " + protection.Message, protection),
            UnknownKeyException unknown => new RpcException(StatusCode.NotFound, unknown.Message, unknown),
            Pkcs11KeyException key when key.Message.StartsWith("no ", StringComparison.Ordinal) => new RpcException(StatusCode.NotFound, key.Message, key),
            Pkcs11KeyException key => new RpcException(StatusCode.FailedPrecondition, key.Message, key),
            NotSupportedByBackendException notSupported => new RpcException(StatusCode.FailedPrecondition, notSupported.Message, notSupported),
            MetadataException metadata => new RpcException(StatusCode.FailedPrecondition, "policy rule 'parse': " + metadata.Message, metadata),
            ArgumentException or FormatException => new RpcException(StatusCode.InvalidArgument, exception.Message, exception),
            Pkcs11TokenException or Pkcs11ModuleException or Pkcs11Exception => new RpcException(StatusCode.Unavailable, exception.Message, exception),
            SigningException signing => new RpcException(StatusCode.Unavailable, signing.Message, signing),
            OperationCanceledException => new RpcException(StatusCode.Cancelled, "the call was cancelled", exception),
            _ => new RpcException(StatusCode.Internal, "internal error", exception),
        };
    }
}
