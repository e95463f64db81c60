namespace OfflineSigner.Ceremony.Transcripts;

/// <summary>The event names of transcript lines (docs/ceremony.md "The transcript").</summary>
public static class TranscriptEvents
{
    public const string CeremonyStarted = "ceremony_started";
    public const string StepStarted = "step_started";
    public const string Prompt = "prompt";
    public const string Answer = "answer";
    public const string KeyGenerated = "key_generated";
    public const string TrustedRoot = "trusted_root";
    public const string KeyPresented = "key_presented";
    public const string KeyAttested = "key_attested";
    public const string KeyEnrolled = "key_enrolled";
    public const string MetadataBuilt = "metadata_built";
    public const string SignatureAdded = "signature_added";
    public const string BundleExported = "bundle_exported";
    public const string StepCompleted = "step_completed";
    public const string StepFailed = "step_failed";
    public const string StepRefused = "step_refused";
    public const string SealSignature = "seal_signature";

    /// <summary>The <c>_type</c> of the statement each seal signature signs.</summary>
    public const string SealStatementType = "ceremony-seal";

    /// <summary>The <c>_type</c> of a witness statement's signed part.</summary>
    public const string WitnessStatementType = "ceremony-witness-statement";

    /// <summary>The transcript format this version writes, recorded in ceremony_started.</summary>
    public const string TranscriptFormat = "offline-signer-ceremony-transcript/1";
}
