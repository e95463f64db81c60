// PKCS#11 v2.40 base specification, section 5.2 (CK_FUNCTION_LIST): the module's entry points, called
// through the table C_GetFunctionList returns rather than by symbol, as the standard intends.
namespace OfflineSigner.Pkcs11.Interop;

/// <summary>The entry points of one loaded module, read once from its CK_FUNCTION_LIST.</summary>
internal sealed unsafe class Pkcs11FunctionList
{
    // Indices into CK_FUNCTION_LIST (pointer i is at FunctionTableOffset + pointer size * i).
    internal const int IndexInitialize = 0;
    internal const int IndexFinalize = 1;
    internal const int IndexGetInfo = 2;
    internal const int IndexGetSlotList = 4;
    internal const int IndexGetSlotInfo = 5;
    internal const int IndexGetTokenInfo = 6;
    internal const int IndexGetMechanismList = 7;
    internal const int IndexGetMechanismInfo = 8;
    internal const int IndexOpenSession = 12;
    internal const int IndexCloseSession = 13;
    internal const int IndexLogin = 18;
    internal const int IndexLogout = 19;
    internal const int IndexDestroyObject = 22;
    internal const int IndexGetAttributeValue = 24;
    internal const int IndexFindObjectsInit = 26;
    internal const int IndexFindObjects = 27;
    internal const int IndexFindObjectsFinal = 28;
    internal const int IndexSignInit = 42;
    internal const int IndexSign = 43;
    internal const int IndexVerifyInit = 48;
    internal const int IndexVerify = 49;
    internal const int IndexGenerateKeyPair = 59;
    internal const int IndexGenerateRandom = 64;

    /// <summary>The highest index read; the table must hold at least this many entries.</summary>
    internal const int HighestIndex = IndexGenerateRandom;

    private Pkcs11FunctionList(nint table)
    {
        var p = (nint*)((byte*)table + Pkcs11Layout.FunctionTableOffset);
        Version = *(CkVersion*)table;
        Initialize = (delegate* unmanaged<CkCInitializeArgs*, CkUlong>)Require(p, IndexInitialize, "C_Initialize");
        Finalize = (delegate* unmanaged<nint, CkUlong>)Require(p, IndexFinalize, "C_Finalize");
        GetInfo = (delegate* unmanaged<CkInfo*, CkUlong>)Require(p, IndexGetInfo, "C_GetInfo");
        GetSlotList = (delegate* unmanaged<byte, CkUlong*, CkUlong*, CkUlong>)Require(p, IndexGetSlotList, "C_GetSlotList");
        GetSlotInfo = (delegate* unmanaged<CkUlong, CkSlotInfo*, CkUlong>)Require(p, IndexGetSlotInfo, "C_GetSlotInfo");
        GetTokenInfo = (delegate* unmanaged<CkUlong, CkTokenInfo*, CkUlong>)Require(p, IndexGetTokenInfo, "C_GetTokenInfo");
        GetMechanismList = (delegate* unmanaged<CkUlong, CkUlong*, CkUlong*, CkUlong>)Require(p, IndexGetMechanismList, "C_GetMechanismList");
        OpenSession = (delegate* unmanaged<CkUlong, CkUlong, nint, nint, CkUlong*, CkUlong>)Require(p, IndexOpenSession, "C_OpenSession");
        CloseSession = (delegate* unmanaged<CkUlong, CkUlong>)Require(p, IndexCloseSession, "C_CloseSession");
        Login = (delegate* unmanaged<CkUlong, CkUlong, byte*, CkUlong, CkUlong>)Require(p, IndexLogin, "C_Login");
        Logout = (delegate* unmanaged<CkUlong, CkUlong>)Require(p, IndexLogout, "C_Logout");
        DestroyObject = (delegate* unmanaged<CkUlong, CkUlong, CkUlong>)Require(p, IndexDestroyObject, "C_DestroyObject");
        GetAttributeValue = (delegate* unmanaged<CkUlong, CkUlong, CkAttribute*, CkUlong, CkUlong>)Require(p, IndexGetAttributeValue, "C_GetAttributeValue");
        FindObjectsInit = (delegate* unmanaged<CkUlong, CkAttribute*, CkUlong, CkUlong>)Require(p, IndexFindObjectsInit, "C_FindObjectsInit");
        FindObjects = (delegate* unmanaged<CkUlong, CkUlong*, CkUlong, CkUlong*, CkUlong>)Require(p, IndexFindObjects, "C_FindObjects");
        FindObjectsFinal = (delegate* unmanaged<CkUlong, CkUlong>)Require(p, IndexFindObjectsFinal, "C_FindObjectsFinal");
        SignInit = (delegate* unmanaged<CkUlong, CkMechanism*, CkUlong, CkUlong>)Require(p, IndexSignInit, "C_SignInit");
        Sign = (delegate* unmanaged<CkUlong, byte*, CkUlong, byte*, CkUlong*, CkUlong>)Require(p, IndexSign, "C_Sign");
        VerifyInit = (delegate* unmanaged<CkUlong, CkMechanism*, CkUlong, CkUlong>)Require(p, IndexVerifyInit, "C_VerifyInit");
        Verify = (delegate* unmanaged<CkUlong, byte*, CkUlong, byte*, CkUlong, CkUlong>)Require(p, IndexVerify, "C_Verify");
        GenerateKeyPair = (delegate* unmanaged<CkUlong, CkMechanism*, CkAttribute*, CkUlong, CkAttribute*, CkUlong, CkUlong*, CkUlong*, CkUlong>)Require(p, IndexGenerateKeyPair, "C_GenerateKeyPair");
        GenerateRandom = (delegate* unmanaged<CkUlong, byte*, CkUlong, CkUlong>)Require(p, IndexGenerateRandom, "C_GenerateRandom");
    }

    public CkVersion Version { get; }

    public delegate* unmanaged<CkCInitializeArgs*, CkUlong> Initialize { get; }

    public delegate* unmanaged<nint, CkUlong> Finalize { get; }

    public delegate* unmanaged<CkInfo*, CkUlong> GetInfo { get; }

    public delegate* unmanaged<byte, CkUlong*, CkUlong*, CkUlong> GetSlotList { get; }

    public delegate* unmanaged<CkUlong, CkSlotInfo*, CkUlong> GetSlotInfo { get; }

    public delegate* unmanaged<CkUlong, CkTokenInfo*, CkUlong> GetTokenInfo { get; }

    public delegate* unmanaged<CkUlong, CkUlong*, CkUlong*, CkUlong> GetMechanismList { get; }

    public delegate* unmanaged<CkUlong, CkUlong, nint, nint, CkUlong*, CkUlong> OpenSession { get; }

    public delegate* unmanaged<CkUlong, CkUlong> CloseSession { get; }

    public delegate* unmanaged<CkUlong, CkUlong, byte*, CkUlong, CkUlong> Login { get; }

    public delegate* unmanaged<CkUlong, CkUlong> Logout { get; }

    public delegate* unmanaged<CkUlong, CkUlong, CkUlong> DestroyObject { get; }

    public delegate* unmanaged<CkUlong, CkUlong, CkAttribute*, CkUlong, CkUlong> GetAttributeValue { get; }

    public delegate* unmanaged<CkUlong, CkAttribute*, CkUlong, CkUlong> FindObjectsInit { get; }

    public delegate* unmanaged<CkUlong, CkUlong*, CkUlong, CkUlong*, CkUlong> FindObjects { get; }

    public delegate* unmanaged<CkUlong, CkUlong> FindObjectsFinal { get; }

    public delegate* unmanaged<CkUlong, CkMechanism*, CkUlong, CkUlong> SignInit { get; }

    public delegate* unmanaged<CkUlong, byte*, CkUlong, byte*, CkUlong*, CkUlong> Sign { get; }

    public delegate* unmanaged<CkUlong, CkMechanism*, CkUlong, CkUlong> VerifyInit { get; }

    public delegate* unmanaged<CkUlong, byte*, CkUlong, byte*, CkUlong, CkUlong> Verify { get; }

    public delegate* unmanaged<CkUlong, CkMechanism*, CkAttribute*, CkUlong, CkAttribute*, CkUlong, CkUlong*, CkUlong*, CkUlong> GenerateKeyPair { get; }

    public delegate* unmanaged<CkUlong, byte*, CkUlong, CkUlong> GenerateRandom { get; }

    /// <summary>Reads the table a module returned from C_GetFunctionList.</summary>
    public static Pkcs11FunctionList FromTable(nint table)
    {
        ArgumentOutOfRangeException.ThrowIfZero(table);
        return new Pkcs11FunctionList(table);
    }

    private static nint Require(nint* table, int index, string name)
    {
        var fn = table[index];
        if (fn == 0)
        {
            throw new Pkcs11ModuleException($"the module's function list has no {name} (entry {index} is null)");
        }

        return fn;
    }
}
