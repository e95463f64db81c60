using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Google.Protobuf;
using OfflineSigner.Audit;
using OfflineSigner.Daemon.Grpc;
using OfflineSigner.Daemon.Policy;
using OfflineSigner.Pkcs11;

namespace OfflineSigner.Daemon.Services;

/// <summary>What a refused or failed call records, beside the status it returns.</summary>
internal sealed record CallFacts(string? KeyUri = null, string? Role = null, string? Backend = null);

/// <summary>
/// Runs a service method: refusals by policy and failed logins are audited, every exception leaves through
/// <see cref="RpcErrors"/>, and PIN bytes are wiped whatever happens.
/// </summary>
internal static class ServiceGuard
{
    public static T Run<T>(IAuditLog audit, CallContext context, CallFacts facts, Func<T> operation)
    {
        try
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            return operation();
        }
        catch (PolicyViolationException e)
        {
            audit.Append(new AuditEvent(AuditEventKind.PolicyRefused)
            {
                KeyUri = facts.KeyUri,
                Role = facts.Role,
                Backend = facts.Backend,
                CallerUid = context.Uid,
                Detail = e.Rule,
            });
            throw RpcErrors.ToRpc(e);
        }
        catch (Pkcs11PinException e)
        {
            audit.Append(new AuditEvent(AuditEventKind.LoginFailed)
            {
                KeyUri = facts.KeyUri,
                Role = facts.Role,
                Backend = facts.Backend,
                CallerUid = context.Uid,
                Detail = e.Status.ToString(),
            });
            throw RpcErrors.ToRpc(e);
        }
        catch (YubiKey.PivPinException e)
        {
            audit.Append(new AuditEvent(AuditEventKind.LoginFailed)
            {
                KeyUri = facts.KeyUri,
                Role = facts.Role,
                Backend = facts.Backend,
                CallerUid = context.Uid,
                Detail = e.Blocked ? "PIV PIN blocked" : $"PIV PIN rejected, {e.RetriesRemaining} left",
            });
            throw RpcErrors.ToRpc(e);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw RpcErrors.ToRpc(e);
        }
    }

    /// <summary>Overwrites the PIN bytes a request carried, so that they do not linger in the parsed message.</summary>
    public static void Wipe(ByteString pin)
    {
        if (pin.Length > 0)
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsMemory(pin.Memory).Span);
        }
    }
}
