using System.Runtime.Versioning;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

[assembly: SupportedOSPlatform("linux")]

// One SoftHSM configuration for the run; each ceremony's daemon gets its own token in it.
[assembly: AssemblyFixture(typeof(SoftHsm))]

// Each test starts pcscd's cards, a daemon, CLI processes and peers: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
