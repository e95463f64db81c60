using System.Security.Cryptography;
using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>How to reach one token: the module, the token, and where its PIN comes from.</summary>
/// <param name="ModulePath">Absolute path of the PKCS#11 module.</param>
/// <param name="Token">The token, by label and/or serial.</param>
/// <param name="Pin">The user PIN's source; null for tokens that need no login or have a PIN pad.</param>
/// <param name="Sessions">
/// How many operations may run on the token at once. 1 (the default): one session, one operation at a time. More: a
/// pool of that many sessions under one kept login (see <see cref="Pkcs11Token"/>), for modules that sign in parallel.
/// </param>
/// <param name="LoginIdleTimeout">Pooled tokens only: log out and close the sessions after this long unused; null keeps the login until disposal.</param>
public sealed record Pkcs11TokenOptions(string ModulePath, TokenSelector Token, IPinSource? Pin, int Sessions = 1, TimeSpan? LoginIdleTimeout = null);

/// <summary>
/// A logged-in connection to one token that runs one operation at a time (many tokens, ykcs11 among them,
/// allow one logged-in session and one operation) and recovers from token errors: when a call fails because the
/// session, the login or the token went away, it finds the token again by label/serial (re-initializing the module
/// when the token is not visible any more), logs in again, and retries the operation once.
/// A rejected PIN is never retried automatically: that would lock the token.
/// <para>
/// With <see cref="Pkcs11TokenOptions.Sessions"/> above 1 the token keeps one login (on a session of its own that runs
/// no operations) and lends up to that many further sessions, which the login covers, to concurrent operations. An
/// operation may bring the PIN of its own request (<see cref="Run{T}(Func{Pkcs11Session, T}, bool, IPinSource?)"/>):
/// the first one logs in with it; the token then keeps only an HMAC-SHA256 of that PIN under a random key of this
/// process, and every later request's PIN is compared with it (in fixed time) before any session is lent: a PIN that
/// does not match is refused as the token refuses a wrong PIN (<see cref="Pkcs11PinException"/>), without reaching the
/// token and without touching the kept login. When the token reports the login or the sessions gone, the pool is
/// dropped (logged out) and the next operation logs in again with its own request's PIN.
/// </para>
/// </summary>
public sealed class Pkcs11Token : IDisposable
{
    /// <summary>The key of the PIN tags: random per process, never leaves it.</summary>
    private static readonly byte[] PinTagKey = RandomNumberGenerator.GetBytes(32);

    private readonly Lock _gate = new();
    private readonly Pkcs11Module _module;
    private readonly SemaphoreSlim? _permits;
    private readonly Stack<Pkcs11Session> _idle = new();
    private readonly List<Pkcs11Session> _lent = [];
    private readonly Timer? _idleTimer;
    private Pkcs11Session? _session;
    private byte[]? _loginTag;
    private int _inUse;
    private long _lastUse;
    private string? _serialSeen;
    private bool _pinRejected;
    private long _epoch;
    private bool _disposed;

    private Pkcs11Token(Pkcs11TokenOptions options, Pkcs11Module module)
    {
        Options = options;
        _module = module;
        if (options.Sessions > 1)
        {
            _permits = new SemaphoreSlim(options.Sessions, options.Sessions);
            if (options.LoginIdleTimeout is { } idle && idle > TimeSpan.Zero)
            {
                var period = TimeSpan.FromMilliseconds(Math.Clamp(idle.TotalMilliseconds / 4, 50, 5000));
                _idleTimer = new Timer(_ => LogOutIfIdle(), null, period, period);
            }
        }
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

    /// <summary>Whether the token is connected (and, when the token needs one, logged in) now.</summary>
    public bool Connected
    {
        get
        {
            lock (_gate)
            {
                return _session is not null && _session.Generation == _module.Generation;
            }
        }
    }

    /// <summary>Pooled tokens: how many times the idle timeout logged out.</summary>
    public int IdleLogouts { get; private set; }

    /// <summary>Pooled tokens: how many request PINs were refused because they do not match the kept login's.</summary>
    public int PinMismatches { get; private set; }

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
    /// Loads the module for a token that connects at its first operation, with the PIN that operation brings
    /// (<see cref="Run{T}(Func{Pkcs11Session, T}, bool, IPinSource?)"/>) or the configured one.
    /// </summary>
    public static Pkcs11Token OpenDeferred(Pkcs11TokenOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Pkcs11Token(options, Pkcs11Module.Load(options.ModulePath));
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on the token's session, alone. When it fails with an error that a new
    /// session can cure (session or token gone, module re-initialized, handle invalid) and <paramref name="retry"/>
    /// is set, reconnects and runs it once more. Operations that must not run twice (key generation) pass false.
    /// </summary>
    public T Run<T>(Func<Pkcs11Session, T> operation, bool retry = true) => Run(operation, retry, pin: null);

    /// <summary>
    /// As <see cref="Run{T}(Func{Pkcs11Session, T}, bool)"/>, for a request that brings its own PIN: a connection made
    /// for it logs in with <paramref name="pin"/>; a kept login serves it only when <paramref name="pin"/> is the PIN
    /// that login was made with. Null: the configured PIN source (unattended mode).
    /// </summary>
    /// <exception cref="Pkcs11PinException">the PIN does not match the kept login's, or the token rejected it.</exception>
    public T Run<T>(Func<Pkcs11Session, T> operation, bool retry, IPinSource? pin)
    {
        ArgumentNullException.ThrowIfNull(operation);
        if (_permits is not null)
        {
            return RunPooled(operation, retry, pin);
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var session = Authorized(pin);
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

                session = Authorized(pin);
                return operation(session);
            }
        }
    }

    /// <summary>
    /// Checks <paramref name="pin"/> as <see cref="Run{T}(Func{Pkcs11Session, T}, bool, IPinSource?)"/> would (logging
    /// in with it when there is no kept login) without running anything on the token.
    /// </summary>
    public void Authorize(IPinSource? pin) => Run(static _ => 0, retry: false, pin);

    /// <summary>Logs out and closes the sessions now (the next operation logs in again).</summary>
    public void LogOut()
    {
        lock (_gate)
        {
            Disconnect();
        }
    }

    private T RunPooled<T>(Func<Pkcs11Session, T> operation, bool retry, IPinSource? pin)
    {
        _permits!.Wait();
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                Pkcs11Session session;
                long epoch;
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    var login = Authorized(pin);
                    epoch = _epoch;
                    session = Lend(login);
                }

                try
                {
                    var result = operation(session);
                    GiveBack(session, epoch, reusable: true);
                    return result;
                }
                catch (Exception e)
                {
                    // A session closed under the operation by a recovery of another one fails with ObjectDisposedException.
                    var recoverable = (e is Pkcs11Exception p && IsRecoverable(p.ReturnValue)) || (e is ObjectDisposedException && Epoch != epoch);
                    GiveBack(session, epoch, reusable: false);
                    if (recoverable)
                    {
                        lock (_gate)
                        {
                            // Only the first operation to see a connection fail drops it.
                            if (_epoch == epoch)
                            {
                                Disconnect();
                            }
                        }
                    }

                    if (!recoverable || !retry || attempt > 0)
                    {
                        throw;
                    }
                }
            }
        }
        finally
        {
            _permits.Release();
        }
    }

    /// <summary>An idle session of the current connection, or a new one (the kept login covers it). Under the lock.</summary>
    private Pkcs11Session Lend(Pkcs11Session login)
    {
        Pkcs11Session? session = null;
        while (_idle.TryPop(out var candidate))
        {
            if (candidate.Generation == _module.Generation)
            {
                session = candidate;
                break;
            }

            candidate.Dispose();
        }

        session ??= login.Slot.OpenSession(readWrite: true);
        _lent.Add(session);
        _inUse++;
        _lastUse = Environment.TickCount64;
        return session;
    }

    private void GiveBack(Pkcs11Session session, long epoch, bool reusable)
    {
        lock (_gate)
        {
            _inUse--;
            _lastUse = Environment.TickCount64;
            var ours = _lent.Remove(session);
            if (ours && reusable && !_disposed && epoch == _epoch && _session is not null)
            {
                _idle.Push(session);
            }
            else
            {
                // After a failure the session may be in the middle of an operation: close it rather than reuse it.
                session.Dispose();
            }
        }
    }

    private void LogOutIfIdle()
    {
        lock (_gate)
        {
            if (_disposed || _session is null || _inUse > 0 || Options.LoginIdleTimeout is not { } idle)
            {
                return;
            }

            if (Environment.TickCount64 - _lastUse >= (long)idle.TotalMilliseconds)
            {
                Disconnect();
                IdleLogouts++;
            }
        }
    }

    /// <summary>
    /// The connected session for a request with <paramref name="pin"/> (null: the configured source): connects and
    /// logs in with that PIN when there is no connection; otherwise checks the PIN against the kept login's. Under the lock.
    /// </summary>
    private Pkcs11Session Authorized(IPinSource? pin)
    {
        if (_session is null || _session.Generation != _module.Generation)
        {
            return EnsureConnected(pin);
        }

        CheckAgainstKeptLogin(pin);
        return _session;
    }

    private void CheckAgainstKeptLogin(IPinSource? pin)
    {
        if (_loginTag is null)
        {
            // No PIN opened this connection: the token needs no login, or took it on its PIN pad.
            return;
        }

        if (pin is null)
        {
            if (Options.Pin is null)
            {
                throw new Pkcs11PinException($"{Options.Token} requires a login and no PIN source is configured", Info?.UserPinStatus ?? PinRetryStatus.NoFailures);
            }

            // Unattended mode: the configured source is trusted without reading it again.
            return;
        }

        var bytes = pin.ReadPin();
        var tag = new byte[HMACSHA256.HashSizeInBytes];
        try
        {
            HMACSHA256.HashData(PinTagKey, bytes, tag);
            if (!CryptographicOperations.FixedTimeEquals(tag, _loginTag))
            {
                PinMismatches++;
                throw new Pkcs11PinException(
                    $"{Options.Token}: the PIN from {pin.Description} is not the PIN the token is logged in with; refused without a login attempt, the token's login is kept",
                    Info?.UserPinStatus ?? PinRetryStatus.NoFailures);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
            CryptographicOperations.ZeroMemory(tag);
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
    /// (CKA_ALWAYS_AUTHENTICATE). Call from inside <see cref="Run{T}(Func{Pkcs11Session, T}, bool, IPinSource?)"/>. The PIN is wiped afterwards; a rejected PIN
    /// marks the token as refusing further logins, as for the session login.
    /// </summary>
    internal T WithPin<T>(Pkcs11Session session, Func<byte[], T> operation)
    {
        return WithPin(session, requestPin: null, operation);
    }

    /// <summary>As <see cref="WithPin{T}(Pkcs11Session, Func{byte[], T})"/> with the request's own PIN when it brings one.</summary>
    internal T WithPin<T>(Pkcs11Session session, IPinSource? requestPin, Func<byte[], T> operation)
    {
        if (requestPin is not null)
        {
            var own = requestPin.ReadPin();
            try
            {
                return operation(own);
            }
            catch (Pkcs11Exception e) when (e.Function == "C_Login" && e.ReturnValue is Ckr.PinIncorrect or Ckr.PinInvalid or Ckr.PinLenRange or Ckr.PinLocked)
            {
                var status = ReadPinStatusAfterFailure(session.Slot, e.ReturnValue);
                throw new Pkcs11PinException($"{Options.Token}: the token rejected the PIN from {requestPin.Description} for a key that needs it per signature; {Pkcs11TokenInfo.Describe(status)}", status, e);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(own);
            }
        }

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
            _idleTimer?.Dispose();
            Disconnect();
            foreach (var session in _lent)
            {
                session.Dispose();
            }

            _lent.Clear();
            _module.Dispose();
        }

        _permits?.Dispose();
    }

    private Pkcs11Session EnsureConnected(IPinSource? requestPin)
    {
        if (_session is not null && _session.Generation == _module.Generation)
        {
            return _session;
        }

        Disconnect();
        if (requestPin is null && _pinRejected)
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
                Login(session, info, requestPin);

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

    private void Login(Pkcs11Session session, Pkcs11TokenInfo info, IPinSource? requestPin)
    {
        var source = requestPin ?? Options.Pin;
        if (info.UserPinStatus == PinRetryStatus.Locked)
        {
            throw new Pkcs11PinException(
                $"{Options.Token}: {Pkcs11TokenInfo.Describe(PinRetryStatus.Locked)}; no login attempted",
                PinRetryStatus.Locked);
        }

        if (source is null)
        {
            if (info.ProtectedAuthenticationPath)
            {
                session.LoginProtectedPath();
                return;
            }

            throw new Pkcs11PinException($"{Options.Token} requires a login and no PIN source is configured", info.UserPinStatus);
        }

        var pin = source.ReadPin();
        try
        {
            // A kept login (pooled, or one that serves requests' own PINs) must be made by this PIN, not inherited
            // from another session of the process: the token is logged out first if it says it already is logged in.
            var strict = _permits is not null || requestPin is not null;
            if (strict)
            {
                session.LoginChecked(pin);
            }
            else
            {
                session.Login(pin);
            }

            _loginTag = HMACSHA256.HashData(PinTagKey, pin);
        }
        catch (Pkcs11Exception e) when (e.ReturnValue is Ckr.PinIncorrect or Ckr.PinInvalid or Ckr.PinLenRange or Ckr.PinLocked or Ckr.PinExpired)
        {
            if (requestPin is null)
            {
                _pinRejected = e.ReturnValue != Ckr.PinExpired;
            }

            var status = ReadPinStatusAfterFailure(session.Slot, e.ReturnValue);
            var what = e.ReturnValue switch
            {
                Ckr.PinLocked => "the user PIN is locked",
                Ckr.PinExpired => "the user PIN has expired and must be changed",
                Ckr.PinLenRange => $"the PIN from {source.Description} has a length the token does not accept ({info.MinPinLength}..{info.MaxPinLength})",
                _ => $"the token rejected the PIN from {source.Description}",
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
        if (_loginTag is not null)
        {
            CryptographicOperations.ZeroMemory(_loginTag);
            _loginTag = null;
        }

        if (_permits is not null)
        {
            // Pooled: log out explicitly, so that sessions still finishing an operation lose the login too and no
            // later login can be taken over from them; then close every session of this connection.
            if (session is not null && session.Generation == _module.Generation)
            {
                try
                {
                    session.Logout();
                }
                catch (Pkcs11Exception)
                {
                    // The token or the login is already gone, which is what logging out wants.
                }
                catch (ObjectDisposedException)
                {
                    // Likewise.
                }
            }

            while (_idle.TryPop(out var idle))
            {
                idle.Dispose();
            }
        }

        session?.Dispose();
    }
}
