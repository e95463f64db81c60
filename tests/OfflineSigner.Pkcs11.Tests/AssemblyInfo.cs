using System.Runtime.Versioning;

// The PKCS#11 binding targets the 64-bit Unix layout and the tests drive Debian's SoftHSM and OpenSC.
[assembly: SupportedOSPlatform("linux")]
