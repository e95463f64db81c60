namespace OfflineSigner.Signing;

/// <summary>The key algorithms the signer can hold and use.</summary>
public enum KeyAlgorithm
{
    /// <summary>ECDSA over NIST P-256.</summary>
    EcdsaP256,

    /// <summary>ECDSA over NIST P-384.</summary>
    EcdsaP384,

    /// <summary>Pure Ed25519 (RFC 8032).</summary>
    Ed25519,

    /// <summary>RSA with a 2048-bit modulus (RSA-PSS with SHA-256 when signing).</summary>
    Rsa2048,

    /// <summary>RSA with a 3072-bit modulus (RSA-PSS with SHA-256 when signing).</summary>
    Rsa3072,

    /// <summary>RSA with a 4096-bit modulus (RSA-PSS with SHA-256 when signing).</summary>
    Rsa4096,
}
