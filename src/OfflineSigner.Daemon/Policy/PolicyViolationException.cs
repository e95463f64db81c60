namespace OfflineSigner.Daemon.Policy;

/// <summary>The policy gate refused a signing request. <see cref="Rule"/> names the rule; the message says why.</summary>
public sealed class PolicyViolationException : OfflineSignerException
{
    public PolicyViolationException()
        : this("policy", "refused by policy")
    {
    }

    public PolicyViolationException(string message)
        : this("policy", message)
    {
    }

    public PolicyViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Rule = "policy";
        Reason = message;
    }

    public PolicyViolationException(string rule, string reason, Exception? innerException = null)
        : base($"policy rule '{rule}': {reason}", innerException!)
    {
        Rule = rule;
        Reason = reason;
    }

    /// <summary>The short name of the rule that refused, for the audit log and the client.</summary>
    public string Rule { get; }

    /// <summary>Why the rule refused, without the rule's name.</summary>
    public string Reason { get; }
}
