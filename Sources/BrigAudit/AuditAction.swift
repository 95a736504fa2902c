/// `event.action`: what a record is about. Each raw value is the record's text on disk
/// (docs/audit.md, docs/audit.schema.json), so a case may be added but never respelled.
public enum AuditAction: String, Sendable, CaseIterable {
    // The writer's own records.
    case sessionStart = "session-start"
    case message
    case syscallBlocked = "syscall-blocked"
    case childExit = "child-exit"
    case sessionEnd = "session-end"
    case auditRecordsLost = "audit-records-lost"
    case auditRecordsDropped = "audit-records-dropped"
    // Events (`AuditLog.event`): the relay's.
    case rateLimited = "rate-limited"
    case malformedMessage = "malformed-message"
    case oversizedMessage = "oversized-message"
    case withheldCall = "withheld-call"
    // The seccomp reporter's: a socket or memfd call the gate refused.
    case gatedCallRefused = "gated-call-refused"
    // The content defenses' findings in a result (`ContentFinding.Action`).
    case pinNew = "pin-new"
    case pinChanged = "pin-changed"
    case pinRemoved = "pin-removed"
    case pinError = "pin-error"
    case sanitized
    case poisoning
    case leak
    /// A network connection of the server's (egress).
    case connection
}

/// `event.outcome`.
public enum AuditOutcome: String, Sendable, CaseIterable {
    case success
    case failure
    /// A message with no decision; an event that decided nothing (a permissive rate limit).
    case unknown
}
