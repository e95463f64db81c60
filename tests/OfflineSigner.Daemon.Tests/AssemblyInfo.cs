using System.Runtime.Versioning;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

// The daemon drives Debian's SoftHSM through the PKCS#11 binding, which targets the 64-bit Unix layout.
[assembly: SupportedOSPlatform("linux")]

// One SoftHSM configuration for the whole run: the module reads SOFTHSM2_CONF once, at C_Initialize.
[assembly: AssemblyFixture(typeof(SoftHsm))]

// Tokens are created by softhsm2-util in the directory the in-process module reads: one test at a time, so that no
// test sees another's half-created token.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
