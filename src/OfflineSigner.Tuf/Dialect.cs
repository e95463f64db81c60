namespace OfflineSigner.Tuf;

/// <summary>The two families of TUF metadata the signer reads and writes.</summary>
public enum Dialect
{
    /// <summary>The TUF specification 1.0.x (python-tuf, go-tuf, tuf-js, sigstore, tuf-on-ci).</summary>
    TufSpecification,

    /// <summary>Notary v1 / Docker Content Trust (notary, docker trust, Harbor).</summary>
    Notary,
}
