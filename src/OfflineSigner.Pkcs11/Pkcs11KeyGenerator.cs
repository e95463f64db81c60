using OfflineSigner.Pkcs11.Keys;
using OfflineSigner.Signing;

namespace OfflineSigner.Pkcs11;

/// <summary>
/// Generates signing keys on a token: always token objects, private, sensitive and never extractable, with CKA_ID and
/// CKA_LABEL; refuses an id or label that is already in use; self-tests the new key before reporting success and
/// destroys it when the self-test fails.
/// </summary>
public static class Pkcs11KeyGenerator
{
    /// <summary>Generates a key pair and returns a signer for it (strict protection policy; the token stays the caller's).</summary>
    public static Pkcs11Signer Generate(Pkcs11Token token, KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id) =>
        Generate(token, algorithm, label, id, pin: null);

    /// <summary>As <see cref="Generate(Pkcs11Token, KeyAlgorithm, string, ReadOnlySpan{byte})"/> for a request that brings its own PIN.</summary>
    public static Pkcs11Signer Generate(Pkcs11Token token, KeyAlgorithm algorithm, string label, ReadOnlySpan<byte> id, IPinSource? pin)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentException.ThrowIfNullOrEmpty(label);
        if (id.IsEmpty)
        {
            throw new ArgumentException("a key needs a CKA_ID", nameof(id));
        }

        var mechanism = KeyTemplates.GenerationMechanism(algorithm);
        var publicTemplate = KeyTemplates.PublicKey(algorithm, label, id);
        var privateTemplate = KeyTemplates.PrivateKey(algorithm, label, id);
        var idCopy = id.ToArray();

        // Generation is not retried: a retry after an error could leave two keys behind.
        var (publicKey, privateKey) = token.Run(
            session =>
            {
                var occupied = Pkcs11KeyInfo.Occupants(session, idCopy, label);
                if (occupied.Count > 0)
                {
                    throw new Pkcs11KeyException($"the token already holds an object with {string.Join(" and ", occupied)}; refusing to generate over it");
                }

                return session.GenerateKeyPair(mechanism, publicTemplate, privateTemplate);
            },
            retry: false,
            pin);

        Pkcs11Signer? signer = null;
        try
        {
            var uri = Pkcs11Uri.ForKey(token.Info?.Label, token.Info?.SerialNumber, label, idCopy);
            signer = Pkcs11Signer.Open(token, ownsToken: false, uri, KeyProtectionPolicy.Strict, pin);
            signer.SelfTest(pin);
            return signer;
        }
        catch (SigningException)
        {
            signer?.Dispose();
            Destroy(token, publicKey, privateKey, pin);
            throw;
        }
    }

    private static void Destroy(Pkcs11Token token, Pkcs11ObjectHandle publicKey, Pkcs11ObjectHandle privateKey, IPinSource? pin)
    {
        try
        {
            token.Run(
                session =>
                {
                    session.DestroyObject(privateKey);
                    session.DestroyObject(publicKey);
                    return 0;
                },
                retry: false,
                pin);
        }
        catch (Pkcs11Exception e)
        {
            throw new Pkcs11KeyException("the new key failed its self-test and could not be destroyed; remove it by hand", e);
        }
    }
}
