using System.Runtime.Versioning;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

[assembly: SupportedOSPlatform("linux")]

// One SoftHSM configuration for the run; each test's daemon gets its own token in it.
[assembly: AssemblyFixture(typeof(SoftHsm))]

// Each test starts real daemon processes, CLI processes and peers: one at a time on small CI machines.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
