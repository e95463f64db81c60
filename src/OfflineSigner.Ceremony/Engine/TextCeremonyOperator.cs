namespace OfflineSigner.Ceremony.Engine;

/// <summary>
/// The operator on a terminal: each prompt says which step asks, who must answer (name, part, id) and on which
/// device, what to do, the lines to compare, and waits for a line. Only <c>yes</c> confirms; the end of the input
/// is a refusal, never a confirmation.
/// </summary>
public sealed class TextCeremonyOperator(TextReader input, TextWriter output) : ICeremonyOperator
{
    /// <inheritdoc/>
    public string Ask(CeremonyPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        output.WriteLine();
        output.WriteLine($"--- {prompt.PromptId}");
        output.WriteLine($"who:    {prompt.Actor.Name} ({prompt.Part}, {prompt.Actor.Id})");
        if (prompt.Device is { } device)
        {
            output.WriteLine($"device: {device}");
        }

        output.WriteLine(prompt.Text);
        foreach (var line in prompt.Details)
        {
            output.WriteLine("    " + line);
        }

        output.Write($"{prompt.Actor.Name}, type \"{CeremonyPrompt.Confirm}\" to confirm (anything else stops the ceremony): ");
        output.Flush();
        return input.ReadLine() ?? string.Empty;
    }

    /// <inheritdoc/>
    public void Show(string message)
    {
        output.WriteLine();
        output.WriteLine("=== " + message);
    }
}
