using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>Module paths that are wrong in each way an operator can get them wrong.</summary>
public sealed class ModuleLoadingTests
{
    [Fact]
    public void Missing_module_is_named()
    {
        var e = Assert.Throws<Pkcs11ModuleException>(() => Pkcs11Module.Load("/nonexistent/libvendor-pkcs11.so"));
        Assert.Equal("PKCS#11 module /nonexistent/libvendor-pkcs11.so does not exist", e.Message);
    }

    [Fact]
    public void Relative_module_path_is_refused()
    {
        var e = Assert.Throws<Pkcs11ModuleException>(() => Pkcs11Module.Load("libsofthsm2.so"));
        Assert.Contains("not absolute", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_shared_library_is_named()
    {
        using var dir = TestEnvironment.CreateTempDir("notamodule");
        var path = Path.Combine(dir.Path, "libfake-pkcs11.so");
        File.WriteAllText(path, "this is a text file, not an ELF object\n");
        var e = Assert.Throws<Pkcs11ModuleException>(() => Pkcs11Module.Load(path));
        Assert.StartsWith($"{path} is not a loadable shared library", e.Message, StringComparison.Ordinal);

        var d = Assert.Throws<Pkcs11ModuleException>(() => Pkcs11Module.Load(dir.Path));
        Assert.Contains("is a directory", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shared_library_without_the_pkcs11_entry_point_is_named()
    {
        var libz = new[] { "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1" }.FirstOrDefault(File.Exists);
        if (libz is null)
        {
            Assert.Skip("libz.so.1 not found to stand in for a shared library that is not a PKCS#11 module");
        }

        var e = Assert.Throws<Pkcs11ModuleException>(() => Pkcs11Module.Load(libz));
        Assert.Equal($"{libz} is not a PKCS#11 module: it exports no C_GetFunctionList", e.Message);
    }
}
