public import BrigJSONRPC
public import BrigProfile

#if canImport(Glibc)
import Glibc
#endif

/// How to open an audit log.
public struct AuditOptions: Sendable {
    /// The log file; `"-"` = stderr; nil = `settings.path`, else the default
    /// `$XDG_STATE_HOME/brig/audit/<sessionName>.jsonl`.
    public var path: String?
    /// The HMAC key file; nil = `settings.keyFile`, else the default `$XDG_STATE_HOME/brig/audit.key`
    /// (created on first use: 32 random bytes, mode 0600).
    public var keyFile: String?
    public var settings: AuditSettings
    /// Injected secrets, name -> value: any occurrence of a value inside a recorded string becomes
    /// `[REDACTED:secret:NAME]` (values shorter than 4 bytes are not matched).
    public var secretValues: [String: String]
    /// The profile's name (else the command's basename): names the default log and anchor files.
    public var sessionName: String
    /// The environment read for `XDG_STATE_HOME` and `HOME` (default: the process's own).
    public var environment: [String: String]?
    /// Where `audit.syslog: true` sends denials (an AF_UNIX datagram socket).
    public var syslogSocket: String = "/dev/log"

    public init(
        path: String? = nil, keyFile: String? = nil, settings: AuditSettings = AuditSettings(),
        secretValues: [String: String] = [:], sessionName: String, environment: [String: String]? = nil
    ) {
        self.path = path
        self.keyFile = keyFile
        self.settings = settings
        self.secretValues = secretValues
        self.sessionName = sessionName
        self.environment = environment
    }
}

/// Why an audit log could not be opened (or a key read). `description` is one line.
public struct AuditError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }
}

/// What the session-start record says about this run.
public struct SessionInfo: Sendable {
    public var brigVersion: String
    /// The server command as given (argv[0] first).
    public var command: [String]
    /// The resolved executable path.
    public var executable: String?
    /// SHA-256 hex of the executable; nil = computed by the writer from `executable`.
    public var executableSHA256: String?
    public var profileName: String
    /// Where the profile came from (a path or `builtin:NAME`).
    public var profileSource: String?
    /// The profile's YAML text (hashed into `brig.profile.sha256`); or give the hash directly.
    public var profileText: String?
    public var profileSHA256: String?
    /// The effective sandbox, one line each (as `brig check` prints it).
    public var sandbox: [String]
    /// Kernel features found (e.g. `seccomp`, `landlock-abi-7`).
    public var kernelFeatures: [String]
    /// The server's pid, when already started.
    public var serverPID: Int32?
    public var userID: UInt32
    public var userName: String?
    /// brig's own pid and its parent's (the host).
    public var brigPID: Int32
    public var parentPID: Int32

    public init(
        brigVersion: String, command: [String], executable: String? = nil, executableSHA256: String? = nil,
        profileName: String, profileSource: String? = nil, profileText: String? = nil,
        profileSHA256: String? = nil, sandbox: [String] = [], kernelFeatures: [String] = [],
        serverPID: Int32? = nil
    ) {
        self.brigVersion = brigVersion
        self.command = command
        self.executable = executable
        self.executableSHA256 = executableSHA256
        self.profileName = profileName
        self.profileSource = profileSource
        self.profileText = profileText
        self.profileSHA256 = profileSHA256
        self.sandbox = sandbox
        self.kernelFeatures = kernelFeatures
        self.serverPID = serverPID
        self.userID = getuid()
        self.userName = currentUserName()
        self.brigPID = getpid()
        self.parentPID = getppid()
    }
}

/// The policy's verdict on one message.
public struct AuditDecision: Sendable, Equatable {
    public var allowed: Bool
    /// False when the verdict was only logged (a dry-run / audit-only rule).
    public var enforced: Bool
    /// The rule that decided (e.g. `mcp.tools.deny[2]`), or `default`.
    public var rule: String
    public var reason: String
    /// What kind of check decided: method, tool, resource, prompt, argument, scope, rate, size...
    public var category: String
    /// For a denial: the flag or profile line that would allow the message (`--allow-tool NAME`).
    public var suggestion: String?

    public init(
        allowed: Bool, enforced: Bool = true, rule: String, reason: String = "", category: String = "",
        suggestion: String? = nil
    ) {
        self.allowed = allowed
        self.enforced = enforced
        self.rule = rule
        self.reason = reason
        self.category = category
        self.suggestion = suggestion
    }
}

/// What brig asked the host's user about a call (`ask: true`), and what came back: the call's
/// record carries it as `mcp.ask`.
public struct AuditAsk: Sendable, Equatable {
    /// The text shown to the user (arguments already redacted and shortened).
    public var question: String
    /// `accept`, `decline`, `cancel`, `timeout`, `no-capability`, `closed`, `error`, or `pending`
    /// (2026-07-28: the question went out in an `input_required` result; the retry tells).
    public var answer: String
    /// `elicitation/create` (a request to the host) or `input_required` (inside the call's result).
    public var via: String
    public var timeoutMicros: UInt64
    /// From the question to the answer; nil while pending or when nothing was asked.
    public var waitedMicros: UInt64?

    public init(question: String, answer: String, via: String, timeoutMicros: UInt64, waitedMicros: UInt64? = nil) {
        self.question = question
        self.answer = answer
        self.via = via
        self.timeoutMicros = timeoutMicros
        self.waitedMicros = waitedMicros
    }
}

/// One relayed (or refused) message. Cheap to make: the raw line is kept as is and only looked
/// into on the writer thread.
public struct MessageEvent: Sendable {
    public var direction: Direction
    /// request, notification, response, error, batch.
    public var kind: String
    public var method: String?
    /// The id's raw JSON text (`1`, `"a"`).
    public var id: String?
    public var tool: String?
    public var resource: String?
    public var prompt: String?
    /// The line's size in bytes.
    public var size: Int
    public var decision: AuditDecision?
    public var ask: AuditAsk?
    public var subject: String?
    public var scopes: [String]
    /// For responses: time since the request was forwarded.
    public var durationMicros: UInt64?
    /// The line itself (without its newline), for `payloads`; nil = no payload.
    public var raw: [UInt8]?
    /// Where `params`, `result` and `error` are in `raw`, when the caller parsed it already
    /// (the writer parses `raw` itself otherwise).
    public var payload: PayloadRanges?

    public init(
        direction: Direction, kind: String, method: String? = nil, id: String? = nil,
        tool: String? = nil, resource: String? = nil, prompt: String? = nil, size: Int,
        decision: AuditDecision? = nil, ask: AuditAsk? = nil, subject: String? = nil, scopes: [String] = [],
        durationMicros: UInt64? = nil, raw: [UInt8]? = nil, payload: PayloadRanges? = nil
    ) {
        self.ask = ask
        self.direction = direction
        self.kind = kind
        self.method = method
        self.id = id
        self.tool = tool
        self.resource = resource
        self.prompt = prompt
        self.size = size
        self.decision = decision
        self.subject = subject
        self.scopes = scopes
        self.durationMicros = durationMicros
        self.raw = raw
        self.payload = payload
    }
}

/// The byte ranges of a message's `params`, `result` and `error` inside its line.
public struct PayloadRanges: Sendable, Equatable {
    public var params: Range<Int>?
    public var result: Range<Int>?
    public var error: Range<Int>?
    /// The length of the line the ranges are in (checked against the line they are used with).
    public var count: Int

    public init(params: Range<Int>? = nil, result: Range<Int>? = nil, error: Range<Int>? = nil, count: Int) {
        self.params = params
        self.result = result
        self.error = error
        self.count = count
    }
}

/// A session's seccomp refusals, for its end record: every refused call is counted, though only
/// the first ones get a `syscall-blocked` record of their own (a loop must not flood the trail).
public struct BlockedSyscallTotals: Sendable, Equatable {
    /// Refused calls by syscall name.
    public var bySyscall: [String: Int]
    /// Refused calls past the limit, counted in `bySyscall` but without a record of their own.
    public var notRecorded: Int

    public init(bySyscall: [String: Int], notRecorded: Int) {
        self.bySyscall = bySyscall
        self.notRecorded = notRecorded
    }
}

/// How the server ended.
public struct ExitInfo: Sendable {
    public var pid: Int32
    /// The exit code when it exited; nil when a signal killed it.
    public var code: Int32?
    public var signal: Int32?
    public var userCPUMicros: UInt64
    public var systemCPUMicros: UInt64
    /// Peak resident set size in KiB (`ru_maxrss`).
    public var maxRSSKiB: UInt64
    public var wallMicros: UInt64

    public init(
        pid: Int32, code: Int32?, signal: Int32?, userCPUMicros: UInt64 = 0, systemCPUMicros: UInt64 = 0,
        maxRSSKiB: UInt64 = 0, wallMicros: UInt64 = 0
    ) {
        self.pid = pid
        self.code = code
        self.signal = signal
        self.userCPUMicros = userCPUMicros
        self.systemCPUMicros = systemCPUMicros
        self.maxRSSKiB = maxRSSKiB
        self.wallMicros = wallMicros
    }
}

func currentUserName() -> String? {
    guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return nil }
    return String(cString: name)
}
