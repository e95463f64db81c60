using System.Security.Cryptography;
using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>How to reach one token: the module, the token, and where its PIN comes from.</summary>
/// <param name="ModulePath">Absolute path of the PKCS#11 module.</param>
/// <param name="Token">The token, by label and/or serial.</param>
/// <param name="Pin">The user PIN's source; null for tokens that need no login or have a PIN pad.</param>
public sealed record Pkcs11TokenOptions(string ModulePath, TokenSelector Token, IPinSource? Pin);

/// <summary>
/// A logged-in connection to one token that runs one operation at a time (many tokens, ykcs11 among them,
/// allow one logged-in session and one operation) and recovers from token errors: when a call fails because the
/// session, the login or the token went away, it finds the token again by label/serial (re-initializing the module
/// when the token is not visible any more), logs in again, and retries the operation once.
/// A rejected PIN is never retried automatically: that would lock the token.
/// </summary>
public sealed class Pkcs11Token : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Pkcs11Module _module;
    private Pkcs11Session? _session;
    private string? _serialSeen;
    private bool _pinRejected;
    private long _epoch;
    private bool _disposed;

    private Pkcs11Token(Pkcs11TokenOptions options, Pkcs11Module module)
    {
        Options = options;
        _module = module;
    }

    public Pkcs11TokenOptions Options { get; }

    public Pkcs11Module Module => _module;

    /// <summary>The token information read at the last (re)connection.</summary>
    public Pkcs11TokenInfo? Info { get; private set; }

    /// <summary>Incremented on every (re)connection; object handles found in an older epoch must be found again.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>
    /// How many times the connection was re-established after the first one: after an error, or because the module
    /// was re-initialized for another token (for logs and tests).
    /// </summary>
    public int Recoveries { get; private set; }

    /// <summary>
    /// Loads the module, finds the token and logs in. Throws <see cref="Pkcs11ModuleException"/>,
    /// <see cref="Pkcs11TokenException"/> (absent) or <see cref="Pkcs11PinException"/> (PIN refused or locked).
    /// </summary>
    public static Pkcs11Token Open(Pkcs11TokenOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var module = Pkcs11Module.Load(options.ModulePath);
        var token = new Pkcs11Token(options, module);
        try
        {
            token.Run(_ => 0, retry: false);
            return token;
        }
        catch
        {
            token.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on the token's session, alone. When it fails with an error that a new
    /// session can cure (session or token gone, module re-initialized, handle invalid) and <paramref name="retry"/>
    /// is set, reconnects and runs it once more. Operations that must not run twice (key generation) pass false.
    /// </summary>
    public T Run<T>(Func<Pkcs11Session, T> operation, bool retry = true)
    {
        ArgumentNullException.ThrowIfNull(operation);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var session = EnsureConnected();
            try
            {
                return operation(session);
            }
            catch (Pkcs11Exception e) when (IsRecoverable(e.ReturnValue))
            {
                Disconnect();
                if (!retry)
                {
                    throw;
                }

                session = EnsureConnected();
                return operation(session);
            }
        }
    }

    /// <summary>
    /// Allows one more login attempt after the token rejected the PIN (call after the operator fixed the PIN source).
    /// </summary>
    public void ClearPinFailure()
    {
        lock (_gate)
        {
            _pinRejected = false;
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> with the user PIN, for keys that need it again for every signature
    /// (CKA_ALWAYS_AUTHENTICATE). Call from inside <see cref="Run{T}"/>. The PIN is wiped afterwards; a rejected PIN
    /// marks the token as refusing further logins, as for the session login.
    /// </summary>
    internal T WithPin<T>(Pkcs11Session session, Func<byte[], T> operation)
    {
        if (_pinRejected)
        {
            throw new Pkcs11PinException(
                $"{Options.Token} rejected the PIN from {Options.Pin?.Description} earlier; not trying again so as not to lock the token. Fix the PIN source and reopen",
                PinRetryStatus.CountLow);
        }

        if (Options.Pin is null)
        {
            throw new Pkcs11PinException($"{Options.Token}: the key needs the PIN for every signature and no PIN source is configured", PinRetryStatus.NoFailures);
        }

        var pin = Options.Pin.ReadPin();
        try
        {
            return operation(pin);
        }
        catch (Pkcs11Exception e) when (e.Function == "C_Login" && e.ReturnValue is Ckr.PinIncorrect or Ckr.PinInvalid or Ckr.PinLenRange or Ckr.PinLocked)
        {
            _pinRejected = true;
            var status = ReadPinStatusAfterFailure(session.Slot, e.ReturnValue);
            throw new Pkcs11PinException(
                $"{Options.Token}: the token rejected the PIN from {Options.Pin.Description} for a key that needs it per signature; {Pkcs11TokenInfo.Describe(status)}",
                status,
                e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pin);
        }
    }

    /// <summary>Errors after which a new session (and perhaps a module re-initialization) may help.</summary>
    public static bool IsRecoverable(ulong returnValue) => returnValue is
        Ckr.SessionHandleInvalid or Ckr.SessionClosed or Ckr.DeviceRemoved or Ckr.DeviceError or
        Ckr.TokenNotPresent or Ckr.TokenNotRecognized or Ckr.UserNotLoggedIn or Ckr.CryptokiNotInitialized or
        Ckr.KeyHandleInvalid or Ckr.ObjectHandleInvalid or Ckr.GeneralError or Ckr.SlotIdInvalid or Ckr.OperationActive;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Disconnect();
            _module.Dispose();
        }
    }

    private Pkcs11Session EnsureConnected()
    {
        if (_session is not null && _session.Generation == _module.Generation)
        {
            return _session;
        }

        Disconnect();
        if (_pinRejected)
        {
            throw new Pkcs11PinException(
                $"{Options.Token} rejected the PIN from {Options.Pin?.Description} earlier; not trying again so as not to lock the token. Fix the PIN source and reopen",
                PinRetryStatus.CountLow);
        }

        var slot = FindSlot();
        var info = slot.GetTokenInfo();
        if (_serialSeen is not null && !string.Equals(_serialSeen, info.SerialNumber, StringComparison.OrdinalIgnoreCase))
        {
            throw new Pkcs11TokenException(
                $"{Options.Token} now has serial {info.SerialNumber}, but serial {_serialSeen} was opened: it is a different token; refusing to use it");
        }

        var session = slot.OpenSession(readWrite: true);
        try
        {
            if (info.LoginRequired)
            {
                Login(session, info);

                // The flags change with a login (a successful one clears the failure count): keep the fresh state.
                info = slot.GetTokenInfo();
            }
        }
        catch
        {
            session.Dispose();
            throw;
        }

        _serialSeen = info.SerialNumber;
        Info = info;
        _session = session;
        if (Interlocked.Increment(ref _epoch) > 1)
        {
            Recoveries++;
        }
        return session;
    }

    private Pkcs11Slot FindSlot()
    {
        var unreadable = new List<Pkcs11Exception>();
        Pkcs11Slot? slot;
        var generation = _module.Generation;
        try
        {
            slot = _module.FindToken(Options.Token, unreadable);
        }
        catch (Pkcs11Exception e) when (IsRecoverable(e.ReturnValue))
        {
            unreadable.Add(e);
            slot = null;
        }

        if (slot is null)
        {
            // Modules such as SoftHSM only notice a token that was removed, restored or re-created when re-initialized.
            _module.Reinitialize(generation);
            unreadable.Clear();
            try
            {
                slot = _module.FindToken(Options.Token, unreadable);
            }
            catch (Pkcs11Exception e)
            {
                throw new Pkcs11TokenException(
                    $"{Options.Token} cannot be looked for: module {_module.Path} cannot list its slots ({e.Message}); "
                    + "for smart-card modules check that pcscd runs and the reader is attached",
                    e);
            }
        }

        if (slot is null)
        {
            var detail = unreadable.Count == 0 ? string.Empty : "; unreadable slots: " + string.Join(", ", unreadable.Select(e => e.Message));
            throw new Pkcs11TokenException($"{Options.Token} is not present in module {_module.Path}{detail}");
        }

        return slot;
    }

    private void Login(Pkcs11Session session, Pkcs11TokenInfo info)
    {
        if (info.UserPinStatus == PinRetryStatus.Locked)
        {
            throw new Pkcs11PinException(
                $"{Options.Token}: {Pkcs11TokenInfo.Describe(PinRetryStatus.Locked)}; no login attempted",
                PinRetryStatus.Locked);
        }

        if (Options.Pin is null)
        {
            if (info.ProtectedAuthenticationPath)
            {
                session.LoginProtectedPath();
                return;
            }

            throw new Pkcs11PinException($"{Options.Token} requires a login and no PIN source is configured", info.UserPinStatus);
        }

        var pin = Options.Pin.ReadPin();
        try
        {
            session.Login(pin);
        }
        catch (Pkcs11Exception e) when (e.ReturnValue is Ckr.PinIncorrect or Ckr.PinInvalid or Ckr.PinLenRange or Ckr.PinLocked or Ckr.PinExpired)
        {
            _pinRejected = e.ReturnValue != Ckr.PinExpired;
            var status = ReadPinStatusAfterFailure(session.Slot, e.ReturnValue);
            var what = e.ReturnValue switch
            {
                Ckr.PinLocked => "the user PIN is locked",
                Ckr.PinExpired => "the user PIN has expired and must be changed",
                Ckr.PinLenRange => $"the PIN from {Options.Pin.Description} has a length the token does not accept ({info.MinPinLength}..{info.MaxPinLength})",
                _ => $"the token rejected the PIN from {Options.Pin.Description}",
            };
            throw new Pkcs11PinException($"{Options.Token}: {what}; {Pkcs11TokenInfo.Describe(status)}", status, e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pin);
        }
    }

    private static PinRetryStatus ReadPinStatusAfterFailure(Pkcs11Slot slot, ulong returnValue)
    {
        if (returnValue == Ckr.PinLocked)
        {
            return PinRetryStatus.Locked;
        }

        try
        {
            return slot.GetTokenInfo().UserPinStatus;
        }
        catch (Pkcs11Exception)
        {
            // The login already failed; the retry state is extra information the token may not give now.
            return PinRetryStatus.CountLow;
        }
    }

    private void Disconnect()
    {
        var session = _session;
        _session = null;
        session?.Dispose();
    }
}
