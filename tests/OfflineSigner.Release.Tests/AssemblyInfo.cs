using System.Runtime.Versioning;
using OfflineSigner.Release.Tests.Support;
using Xunit;

[assembly: SupportedOSPlatform("linux")]

// The release is built once per run (twice, from two checkouts) and every test reads it.
[assembly: AssemblyFixture(typeof(ReleaseBuild))]

// Builds and a Debian root are heavy for a 2-core machine: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
