using System.Runtime.Versioning;

// The PC/SC binding targets pcsc-lite's 64-bit Linux layout, and the tests drive Debian's pcscd, vpcd and Yubico tools.
[assembly: SupportedOSPlatform("linux")]
