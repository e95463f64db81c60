using OfflineSigner.Ceremony.Scripts;

namespace OfflineSigner.Ceremony.Engine;

/// <summary>
/// A question the runner puts to one person, naming them, their part and the device they act on. Only the exact
/// answer <see cref="Confirm"/> lets the step go on; any other answer fails the step.
/// </summary>
/// <param name="StepId">The step asking.</param>
/// <param name="PromptId">Unique in the ceremony: the step id, a slash and what is asked.</param>
/// <param name="Actor">Who must answer.</param>
/// <param name="Part">administrator, key-holder or witness.</param>
/// <param name="Device">The device the actor acts on, if any.</param>
/// <param name="Text">What the actor is asked to do and confirm.</param>
/// <param name="Details">Lines to show with the question (fingerprints, digests), recorded with it.</param>
public sealed record CeremonyPrompt(string StepId, string PromptId, Person Actor, string Part, Device? Device, string Text, IReadOnlyList<string> Details)
{
    /// <summary>The answer that confirms.</summary>
    public const string Confirm = "yes";
}

/// <summary>The people at the machine: shows prompts and returns what was answered. The CLI implements it on the console.</summary>
public interface ICeremonyOperator
{
    /// <summary>Puts the question and returns the answer as typed (never a secret: PINs go to the device, not here).</summary>
    string Ask(CeremonyPrompt prompt);

    /// <summary>Shows progress that needs no answer (recorded only as the entries it announces).</summary>
    void Show(string message);
}
