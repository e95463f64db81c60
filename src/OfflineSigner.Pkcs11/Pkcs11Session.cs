using OfflineSigner.Pkcs11.Interop;

namespace OfflineSigner.Pkcs11;

/// <summary>A handle to an object on the token, valid within the module generation it was found in.</summary>
public readonly record struct Pkcs11ObjectHandle(ulong Value);

/// <summary>
/// A session with a token (C_OpenSession). Not thread-safe: one caller at a time, as PKCS#11 requires of a session;
/// <see cref="Pkcs11Token"/> serializes access for the signer.
/// </summary>
public sealed unsafe class Pkcs11Session : IDisposable
{
    private readonly SafeSessionHandle _handle;

    internal Pkcs11Session(Pkcs11Slot slot, SafeSessionHandle handle)
    {
        Slot = slot;
        _handle = handle;
    }

    public Pkcs11Slot Slot { get; }

    /// <summary>The module generation this session belongs to.</summary>
    public long Generation => _handle.Generation;

    private Pkcs11FunctionList Functions => Slot.Module.Core.Functions;

    /// <summary>
    /// C_Login as the normal user. The PIN is the caller's buffer: read once, not copied, and the caller wipes it.
    /// CKR_USER_ALREADY_LOGGED_IN (another session of this process logged in) counts as success.
    /// </summary>
    public void Login(ReadOnlySpan<byte> pin) => Login(Cku.User, pin);

    /// <summary>
    /// C_Login as the normal user that the token must check: when the token says a session of this process is already
    /// logged in, it is logged out (every session of the process with it) and the login is made again with
    /// <paramref name="pin"/>, so a wrong PIN is never taken for a right one. The caller wipes the PIN.
    /// </summary>
    public void LoginChecked(ReadOnlySpan<byte> pin)
    {
        using var call = Enter();
        CkUlong rv;
        fixed (byte* p = pin)
        {
            rv = Functions.Login(_handle.Value, Cku.User, p, (CkUlong)pin.Length);
            if (rv == Ckr.UserAlreadyLoggedIn)
            {
                var logout = Functions.Logout(_handle.Value);
                if (logout != Ckr.UserNotLoggedIn)
                {
                    Pkcs11Exception.ThrowIfFailed("C_Logout", logout);
                }

                rv = Functions.Login(_handle.Value, Cku.User, p, (CkUlong)pin.Length);
            }
        }

        Pkcs11Exception.ThrowIfFailed("C_Login", rv);
    }

    /// <summary>C_Login as the security officer.</summary>
    public void LoginSecurityOfficer(ReadOnlySpan<byte> pin) => Login(Cku.So, pin);

    /// <summary>C_Login on a token with a protected authentication path (PIN pad): no PIN passes through the host.</summary>
    public void LoginProtectedPath()
    {
        using var call = Enter();
        var rv = Functions.Login(_handle.Value, Cku.User, null, 0);
        if (rv != Ckr.UserAlreadyLoggedIn)
        {
            Pkcs11Exception.ThrowIfFailed("C_Login", rv);
        }
    }

    /// <summary>C_Logout.</summary>
    public void Logout()
    {
        using var call = Enter();
        var rv = Functions.Logout(_handle.Value);
        if (rv != Ckr.UserNotLoggedIn)
        {
            Pkcs11Exception.ThrowIfFailed("C_Logout", rv);
        }
    }

    /// <summary>C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal: every object matching <paramref name="template"/>.</summary>
    public IReadOnlyList<Pkcs11ObjectHandle> FindAllObjects(IReadOnlyList<ObjectAttribute> template)
    {
        ArgumentNullException.ThrowIfNull(template);
        using var call = Enter();
        using var native = NativeAttributeTemplate.From(template);
        Pkcs11Exception.ThrowIfFailed("C_FindObjectsInit", Functions.FindObjectsInit(_handle.Value, native.Attributes, (CkUlong)native.Count));
        var found = new List<Pkcs11ObjectHandle>();
        CkUlong rv;
        const int batch = 32;
        var buffer = stackalloc CkUlong[batch];
        while (true)
        {
            CkUlong count = 0;
            rv = Functions.FindObjects(_handle.Value, buffer, batch, &count);
            if (rv != Ckr.Ok)
            {
                break;
            }

            for (var i = 0; i < (int)count; i++)
            {
                found.Add(new Pkcs11ObjectHandle(buffer[i]));
            }

            if (count < batch)
            {
                break;
            }
        }

        // Always end the search, also after a failed C_FindObjects, so the session can start another operation;
        // the first failure is the one reported.
        var rvFinal = Functions.FindObjectsFinal(_handle.Value);
        Pkcs11Exception.ThrowIfFailed("C_FindObjects", rv);
        Pkcs11Exception.ThrowIfFailed("C_FindObjectsFinal", rvFinal);
        return found;
    }

    /// <summary>
    /// C_GetAttributeValue for several attributes. Attributes the module will not give (sensitive, or not
    /// defined for the object) come back with a null value rather than failing the whole call.
    /// </summary>
    public IReadOnlyList<ObjectAttribute> GetAttributeValue(Pkcs11ObjectHandle handle, IReadOnlyList<ulong> types)
    {
        ArgumentNullException.ThrowIfNull(types);
        using var call = Enter();
        var nativeTypes = types.Select(t => (CkUlong)t).ToArray();
        int[] lengths;
        using (var probe = NativeAttributeTemplate.ForLengths(nativeTypes))
        {
            var rv = Functions.GetAttributeValue(_handle.Value, (CkUlong)handle.Value, probe.Attributes, (CkUlong)probe.Count);
            ThrowUnlessPartial(rv);
            lengths = new int[nativeTypes.Length];
            for (var i = 0; i < lengths.Length; i++)
            {
                var len = probe.Attributes[i].ValueLen;
                lengths[i] = len == Pkcs11Layout.UnavailableInformation ? -1 : checked((int)len);
            }
        }

        using var values = NativeAttributeTemplate.Allocate(nativeTypes.Length, i => nativeTypes[i], lengths);
        var rv2 = Functions.GetAttributeValue(_handle.Value, (CkUlong)handle.Value, values.Attributes, (CkUlong)values.Count);
        ThrowUnlessPartial(rv2);
        var result = new ObjectAttribute[nativeTypes.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new ObjectAttribute(types[i], lengths[i] < 0 ? null : values.ReadValue(i));
        }

        return result;

        static void ThrowUnlessPartial(CkUlong rv)
        {
            // These three mean "some attributes could not be returned"; each is then marked unavailable.
            if (rv is not (Ckr.Ok or Ckr.AttributeSensitive or Ckr.AttributeTypeInvalid or Ckr.BufferTooSmall))
            {
                throw new Pkcs11Exception("C_GetAttributeValue", rv);
            }
        }
    }

    /// <summary>C_GenerateKeyPair.</summary>
    public (Pkcs11ObjectHandle PublicKey, Pkcs11ObjectHandle PrivateKey) GenerateKeyPair(
        Pkcs11Mechanism mechanism,
        IReadOnlyList<ObjectAttribute> publicKeyTemplate,
        IReadOnlyList<ObjectAttribute> privateKeyTemplate)
    {
        ArgumentNullException.ThrowIfNull(mechanism);
        using var call = Enter();
        using var pub = NativeAttributeTemplate.From(publicKeyTemplate);
        using var priv = NativeAttributeTemplate.From(privateKeyTemplate);
        CkUlong pubHandle = 0, privHandle = 0;
        fixed (byte* param = mechanism.Parameter)
        {
            var m = NativeMechanism(mechanism, param);
            Pkcs11Exception.ThrowIfFailed(
                "C_GenerateKeyPair",
                Functions.GenerateKeyPair(_handle.Value, &m, pub.Attributes, (CkUlong)pub.Count, priv.Attributes, (CkUlong)priv.Count, &pubHandle, &privHandle));
        }

        return (new Pkcs11ObjectHandle(pubHandle), new Pkcs11ObjectHandle(privHandle));
    }

    /// <summary>C_SignInit + C_Sign in one call (single-part signing).</summary>
    public byte[] Sign(Pkcs11Mechanism mechanism, Pkcs11ObjectHandle key, ReadOnlySpan<byte> data) =>
        Sign(mechanism, key, data, contextPin: default, contextLogin: false);

    /// <summary>
    /// C_SignInit, C_Login as CKU_CONTEXT_SPECIFIC with <paramref name="pin"/>, then C_Sign: for keys with
    /// CKA_ALWAYS_AUTHENTICATE, which need the PIN again for every signature. The caller wipes the PIN.
    /// </summary>
    public byte[] SignWithContextLogin(Pkcs11Mechanism mechanism, Pkcs11ObjectHandle key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> pin) =>
        Sign(mechanism, key, data, pin, contextLogin: true);

    private byte[] Sign(Pkcs11Mechanism mechanism, Pkcs11ObjectHandle key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> contextPin, bool contextLogin)
    {
        ArgumentNullException.ThrowIfNull(mechanism);
        using var call = Enter();
        fixed (byte* param = mechanism.Parameter)
        {
            var m = NativeMechanism(mechanism, param);
            Pkcs11Exception.ThrowIfFailed("C_SignInit", Functions.SignInit(_handle.Value, &m, (CkUlong)key.Value));
        }

        if (contextLogin)
        {
            fixed (byte* p = contextPin)
            {
                Pkcs11Exception.ThrowIfFailed("C_Login", Functions.Login(_handle.Value, Cku.ContextSpecific, p, (CkUlong)contextPin.Length));
            }
        }

        // One call with a buffer large enough for RSA-4096; a larger signature costs a second call.
        const int guess = 512;
        var buffer = stackalloc byte[guess];
        CkUlong length = guess;
        CkUlong rv;
        fixed (byte* d = data)
        {
            rv = Functions.Sign(_handle.Value, d, (CkUlong)data.Length, buffer, &length);
            if (rv == Ckr.BufferTooSmall)
            {
                // CKR_BUFFER_TOO_SMALL leaves the operation active; length now holds the size needed.
                var large = new byte[checked((int)length)];
                fixed (byte* l = large)
                {
                    rv = Functions.Sign(_handle.Value, d, (CkUlong)data.Length, l, &length);
                }

                Pkcs11Exception.ThrowIfFailed("C_Sign", rv);
                return large.AsSpan(0, (int)length).ToArray();
            }
        }

        Pkcs11Exception.ThrowIfFailed("C_Sign", rv);
        return new ReadOnlySpan<byte>(buffer, (int)length).ToArray();
    }

    /// <summary>C_VerifyInit + C_Verify: true for a valid signature, false for CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE.</summary>
    public bool Verify(Pkcs11Mechanism mechanism, Pkcs11ObjectHandle key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(mechanism);
        using var call = Enter();
        fixed (byte* param = mechanism.Parameter)
        {
            var m = NativeMechanism(mechanism, param);
            Pkcs11Exception.ThrowIfFailed("C_VerifyInit", Functions.VerifyInit(_handle.Value, &m, (CkUlong)key.Value));
        }

        CkUlong rv;
        fixed (byte* d = data)
        fixed (byte* s = signature)
        {
            rv = Functions.Verify(_handle.Value, d, (CkUlong)data.Length, s, (CkUlong)signature.Length);
        }

        if (rv is Ckr.SignatureInvalid or Ckr.SignatureLenRange)
        {
            return false;
        }

        Pkcs11Exception.ThrowIfFailed("C_Verify", rv);
        return true;
    }

    /// <summary>C_DestroyObject.</summary>
    public void DestroyObject(Pkcs11ObjectHandle handle)
    {
        using var call = Enter();
        Pkcs11Exception.ThrowIfFailed("C_DestroyObject", Functions.DestroyObject(_handle.Value, (CkUlong)handle.Value));
    }

    /// <summary>C_GenerateRandom.</summary>
    public byte[] GenerateRandom(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        using var call = Enter();
        var bytes = new byte[length];
        fixed (byte* p = bytes)
        {
            Pkcs11Exception.ThrowIfFailed("C_GenerateRandom", Functions.GenerateRandom(_handle.Value, p, (CkUlong)length));
        }

        return bytes;
    }

    /// <summary>
    /// The raw session handle and function table, for the benchmark's ceiling measurement only: no locking, no checks.
    /// </summary>
    internal (CkUlong Session, Pkcs11FunctionList Functions) RawForMeasurement => (_handle.Value, Functions);

    public void Dispose() => _handle.Dispose();

    internal static CkMechanism NativeMechanism(Pkcs11Mechanism mechanism, byte* parameter) => new()
    {
        Mechanism = (CkUlong)mechanism.Type,
        Parameter = (nint)parameter,
        ParameterLen = (CkUlong)(mechanism.Parameter?.Length ?? 0),
    };

    private void Login(CkUlong user, ReadOnlySpan<byte> pin)
    {
        using var call = Enter();
        CkUlong rv;
        fixed (byte* p = pin)
        {
            rv = Functions.Login(_handle.Value, user, p, (CkUlong)pin.Length);
        }

        if (rv != Ckr.UserAlreadyLoggedIn)
        {
            Pkcs11Exception.ThrowIfFailed("C_Login", rv);
        }
    }

    private CallScope Enter()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var scope = Slot.Module.Core.EnterCall();
        if (Slot.Module.Core.Generation != _handle.Generation)
        {
            scope.Dispose();
            throw new Pkcs11Exception("(session)", Ckr.SessionHandleInvalid, "the module was re-initialized since this session was opened");
        }

        var added = false;
        _handle.DangerousAddRef(ref added);
        return new CallScope(scope, _handle);
    }

    private readonly struct CallScope : IDisposable
    {
        private readonly Pkcs11ModuleCore.ReadScope _module;
        private readonly SafeSessionHandle _handle;

        public CallScope(Pkcs11ModuleCore.ReadScope module, SafeSessionHandle handle)
        {
            _module = module;
            _handle = handle;
        }

        public void Dispose()
        {
            _handle.DangerousRelease();
            _module.Dispose();
        }
    }
}
