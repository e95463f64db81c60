using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Pkcs11.Tests.Support;

/// <summary>python3-cryptography as an independent verifier.</summary>
internal static class PythonVerifier
{
    public static ProcessResult Verify(KeyAlgorithm algorithm, ReadOnlyMemory<byte> spki, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        var python = TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        var script = Path.Combine(TestEnvironment.RepoRoot, "tests", "OfflineSigner.Pkcs11.Tests", "peers", "verify_signature.py");
        var name = algorithm switch
        {
            KeyAlgorithm.EcdsaP256 => "ecdsa-sha256",
            KeyAlgorithm.EcdsaP384 => "ecdsa-sha256",
            KeyAlgorithm.Ed25519 => "ed25519",
            _ => "rsa-pss-sha256",
        };
        return ProcessRunner.Run(python, [script, name, Convert.ToHexString(spki.Span), Convert.ToHexString(message), Convert.ToHexString(signature)]);
    }
}
