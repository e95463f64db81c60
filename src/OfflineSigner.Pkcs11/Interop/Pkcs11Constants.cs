// PKCS#11 v2.40 / 3.0 constant values (pkcs11t.h). Only the values this project uses.
namespace OfflineSigner.Pkcs11.Interop;

/// <summary>CKR_* return values.</summary>
internal static class Ckr
{
    public const CkUlong Ok = 0x0;
    public const CkUlong Cancel = 0x1;
    public const CkUlong HostMemory = 0x2;
    public const CkUlong SlotIdInvalid = 0x3;
    public const CkUlong GeneralError = 0x5;
    public const CkUlong FunctionFailed = 0x6;
    public const CkUlong ArgumentsBad = 0x7;
    public const CkUlong CantLock = 0xA;
    public const CkUlong AttributeSensitive = 0x11;
    public const CkUlong AttributeTypeInvalid = 0x12;
    public const CkUlong AttributeValueInvalid = 0x13;
    public const CkUlong DataInvalid = 0x20;
    public const CkUlong DataLenRange = 0x21;
    public const CkUlong DeviceError = 0x30;
    public const CkUlong DeviceMemory = 0x31;
    public const CkUlong DeviceRemoved = 0x32;
    public const CkUlong FunctionCanceled = 0x50;
    public const CkUlong FunctionNotSupported = 0x54;
    public const CkUlong KeyHandleInvalid = 0x60;
    public const CkUlong KeySizeRange = 0x62;
    public const CkUlong KeyTypeInconsistent = 0x63;
    public const CkUlong KeyFunctionNotPermitted = 0x68;
    public const CkUlong MechanismInvalid = 0x70;
    public const CkUlong MechanismParamInvalid = 0x71;
    public const CkUlong ObjectHandleInvalid = 0x82;
    public const CkUlong OperationActive = 0x90;
    public const CkUlong OperationNotInitialized = 0x91;
    public const CkUlong PinIncorrect = 0xA0;
    public const CkUlong PinInvalid = 0xA1;
    public const CkUlong PinLenRange = 0xA2;
    public const CkUlong PinExpired = 0xA3;
    public const CkUlong PinLocked = 0xA4;
    public const CkUlong SessionClosed = 0xB0;
    public const CkUlong SessionCount = 0xB1;
    public const CkUlong SessionHandleInvalid = 0xB3;
    public const CkUlong SessionParallelNotSupported = 0xB4;
    public const CkUlong SessionReadOnly = 0xB5;
    public const CkUlong SessionExists = 0xB6;
    public const CkUlong SignatureInvalid = 0xC0;
    public const CkUlong SignatureLenRange = 0xC1;
    public const CkUlong TemplateIncomplete = 0xD0;
    public const CkUlong TemplateInconsistent = 0xD1;
    public const CkUlong TokenNotPresent = 0xE0;
    public const CkUlong TokenNotRecognized = 0xE1;
    public const CkUlong TokenWriteProtected = 0xE2;
    public const CkUlong UserAlreadyLoggedIn = 0x100;
    public const CkUlong UserNotLoggedIn = 0x101;
    public const CkUlong UserPinNotInitialized = 0x102;
    public const CkUlong UserTypeInvalid = 0x103;
    public const CkUlong UserAnotherAlreadyLoggedIn = 0x104;
    public const CkUlong UserTooManyTypes = 0x105;
    public const CkUlong BufferTooSmall = 0x150;
    public const CkUlong CryptokiNotInitialized = 0x190;
    public const CkUlong CryptokiAlreadyInitialized = 0x191;
    public const CkUlong FunctionRejected = 0x200;
}

/// <summary>CKF_* flags of CK_C_INITIALIZE_ARGS, sessions, tokens and slots.</summary>
internal static class Ckf
{
    public const CkUlong LibraryCantCreateOsThreads = 0x1;
    public const CkUlong OsLockingOk = 0x2;

    public const CkUlong RwSession = 0x2;
    public const CkUlong SerialSession = 0x4;

    public const CkUlong TokenPresent = 0x1;

    public const CkUlong Rng = 0x1;
    public const CkUlong WriteProtected = 0x2;
    public const CkUlong LoginRequired = 0x4;
    public const CkUlong UserPinInitialized = 0x8;
    public const CkUlong ProtectedAuthenticationPath = 0x100;
    public const CkUlong TokenInitialized = 0x400;
    public const CkUlong UserPinCountLow = 0x10000;
    public const CkUlong UserPinFinalTry = 0x20000;
    public const CkUlong UserPinLocked = 0x40000;
    public const CkUlong UserPinToBeChanged = 0x80000;
}

/// <summary>CKU_* user types.</summary>
internal static class Cku
{
    public const CkUlong So = 0;
    public const CkUlong User = 1;
    public const CkUlong ContextSpecific = 2;
}

/// <summary>CKO_* object classes.</summary>
internal static class Cko
{
    public const CkUlong Certificate = 1;
    public const CkUlong PublicKey = 2;
    public const CkUlong PrivateKey = 3;
    public const CkUlong SecretKey = 4;
}

/// <summary>CKK_* key types.</summary>
internal static class Ckk
{
    public const CkUlong Rsa = 0x0;
    public const CkUlong Ec = 0x3;
    public const CkUlong EcEdwards = 0x40;
}

/// <summary>CKA_* attribute types.</summary>
internal static class Cka
{
    public const CkUlong Class = 0x0;
    public const CkUlong Token = 0x1;
    public const CkUlong Private = 0x2;
    public const CkUlong Label = 0x3;
    public const CkUlong Value = 0x11;
    public const CkUlong KeyType = 0x100;
    public const CkUlong Id = 0x102;
    public const CkUlong Sensitive = 0x103;
    public const CkUlong Encrypt = 0x104;
    public const CkUlong Decrypt = 0x105;
    public const CkUlong Wrap = 0x106;
    public const CkUlong Unwrap = 0x107;
    public const CkUlong Sign = 0x108;
    public const CkUlong SignRecover = 0x109;
    public const CkUlong Verify = 0x10A;
    public const CkUlong Derive = 0x10C;
    public const CkUlong Modulus = 0x120;
    public const CkUlong ModulusBits = 0x121;
    public const CkUlong PublicExponent = 0x122;
    public const CkUlong Extractable = 0x162;
    public const CkUlong Local = 0x163;
    public const CkUlong NeverExtractable = 0x164;
    public const CkUlong AlwaysSensitive = 0x165;
    public const CkUlong KeyGenMechanism = 0x166;
    public const CkUlong Modifiable = 0x170;
    public const CkUlong EcParams = 0x180;
    public const CkUlong EcPoint = 0x181;
    public const CkUlong AlwaysAuthenticate = 0x202;
}

/// <summary>CKM_* mechanisms, CKG_* mask generation functions.</summary>
internal static class Ckm
{
    public const CkUlong RsaPkcsKeyPairGen = 0x0;
    public const CkUlong RsaPkcs = 0x1;
    public const CkUlong RsaPkcsPss = 0xD;
    public const CkUlong Sha256RsaPkcsPss = 0x43;
    public const CkUlong Sha256 = 0x250;
    public const CkUlong Sha384 = 0x260;
    public const CkUlong Sha512 = 0x270;
    public const CkUlong EcKeyPairGen = 0x1040;
    public const CkUlong Ecdsa = 0x1041;
    public const CkUlong EcdsaSha256 = 0x1044;
    public const CkUlong EcEdwardsKeyPairGen = 0x1055;
    public const CkUlong Eddsa = 0x1057;

    /// <summary>CK_UNAVAILABLE_INFORMATION as CKA_KEY_GEN_MECHANISM: the key was not generated by a known mechanism.</summary>
    public static readonly CkUlong Unavailable = Pkcs11Layout.UnavailableInformation;

    public const CkUlong MgfSha256 = 0x2;
    public const CkUlong MgfSha384 = 0x3;
    public const CkUlong MgfSha512 = 0x4;
}
