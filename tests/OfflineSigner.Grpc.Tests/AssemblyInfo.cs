using System.Runtime.Versioning;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

[assembly: SupportedOSPlatform("linux")]

// One SoftHSM configuration for the run; each test's daemon gets its own token in it.
[assembly: AssemblyFixture(typeof(SoftHsm))]

// Each test starts real daemon processes and peer clients: one at a time keeps timing-sensitive tests honest on
// small CI machines.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
