using System.Text.Json;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// Signature checks by python3-cryptography (tests/peers/crypto_verify.py): an implementation independent of .NET
/// and of our OpenSSL binding. Skips the test when /usr/bin/python3 lacks the cryptography module.
/// </summary>
internal static class PythonCryptography
{
    /// <summary>Schemes: ecdsa-sha256-der, ecdsa-sha384-der, ecdsa-sha256-raw, ecdsa-sha384-raw, rsa-pss-sha256, rsa-pkcs1-sha256, ed25519.</summary>
    public static bool Verify(byte[] publicKeyOrCertificate, string scheme, byte[] signature, byte[] data)
    {
        var python = TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        using var dir = TestEnvironment.CreateTempDir("crypto-verify");
        var keyFile = Path.Combine(dir.Path, "key");
        File.WriteAllBytes(keyFile, publicKeyOrCertificate);
        var result = ProcessRunner.Run(
            python,
            [Peers.Script("crypto_verify.py"), "--public-key", keyFile, "--scheme", scheme, "--signature", Convert.ToHexStringLower(signature), "--data", "-"],
            TimeSpan.FromMinutes(1),
            stdin: data);
        if (result.ExitCode is not (0 or 1))
        {
            throw new PeerToolException("crypto_verify.py could not run\n" + result);
        }

        using var doc = JsonDocument.Parse(result.StdOut);
        var root = doc.RootElement;
        if (root.GetProperty("error").ValueKind == JsonValueKind.String && root.GetProperty("error").GetString() != "InvalidSignature")
        {
            throw new PeerToolException("crypto_verify.py could not check the signature\n" + result);
        }

        return root.GetProperty("ok").GetBoolean();
    }
}
