using System.Runtime.Versioning;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

// The daemon drives Debian's SoftHSM through the PKCS#11 binding, which targets the 64-bit Unix layout.
[assembly: SupportedOSPlatform("linux")]

// One SoftHSM configuration for the whole run: the module reads SOFTHSM2_CONF once, at C_Initialize.
[assembly: AssemblyFixture(typeof(SoftHsm))]
