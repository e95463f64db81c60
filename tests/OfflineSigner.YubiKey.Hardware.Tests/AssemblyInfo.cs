using System.Runtime.Versioning;
using Xunit;

[assembly: SupportedOSPlatform("linux")]

// One device, one operation at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
