using Xunit;

namespace OfflineSigner.Tuf.Tests;

public class PathPatternTests
{
    [Theory]
    [InlineData("targets/*.tgz", "targets/foo.tgz", true)]
    [InlineData("targets/*.tgz", "targets/sub/foo.tgz", false)]
    [InlineData("*", "foo", true)]
    [InlineData("*", "dir/foo", false)]
    [InlineData("foo-version-?.tgz", "foo-version-2.tgz", true)]
    [InlineData("foo-version-?.tgz", "foo-version-10.tgz", false)]
    [InlineData("*/*/*.txt", "a/b/c.txt", true)]
    [InlineData("file[0-9].txt", "file7.txt", true)]
    [InlineData("file[!0-9].txt", "file7.txt", false)]
    [InlineData("registry.npmjs.org/*", "registry.npmjs.org/keys.json", true)]
    public void Matches_like_fnmatch_segment_by_segment(string pattern, string path, bool expected) =>
        Assert.Equal(expected, PathPattern.Matches(pattern, path));
}
