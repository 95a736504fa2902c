import BrigSandbox

/// One of brig's own failures, as a command reports it: thrown up to `Brig.main`, which prints
/// `brig: LINE` (the message's first line) on stderr and exits with `code`. Nothing below the
/// top level ends the process, so `defer` and owners release what a command made.
///
/// The codes are a contract (see `brig --help`): 125 for brig's own errors, 126 when the server
/// command cannot be executed, 127 when it is not found, the spawn's own code when starting it
/// fails, and 1 for a command whose answer is "no" (`audit verify` on a damaged trail, `check
/// --explain` with invalid lines, `pins` with nothing to review or accept).
public struct BrigCLIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process's exit code.
    public var code: Int32
    /// What went wrong, without the `brig: ` prefix. Only its first line is shown.
    public var message: String

    public init(code: Int32 = 125, message: String) {
        self.code = code
        self.message = message
    }

    /// brig's own error (exit 125): a profile, an option, a file brig needs.
    static func brig(_ message: String) -> BrigCLIError { BrigCLIError(code: 125, message: message) }

    /// The server command is not found (exit 127).
    static func notFound(_ command: String) -> BrigCLIError { BrigCLIError(code: 127, message: "\(command): command not found") }

    /// The server command is found but is not an executable file (exit 126).
    static func cannotRun(_ command: String) -> BrigCLIError {
        BrigCLIError(code: 126, message: "\(command): permission denied (not an executable file)")
    }

    /// Starting the server failed: the spawn's own code (126, 127 or 125) and its reason.
    static func spawn(_ command: String, _ error: SpawnError) -> BrigCLIError { BrigCLIError(code: error.exitCode, message: "\(command): \(error)") }

    /// The command ran and its answer is a failure (exit 1): a damaged audit trail, say.
    static func failed(_ message: String) -> BrigCLIError { BrigCLIError(code: 1, message: message) }

    /// The line on stderr: `brig: ` and the message's first line.
    var line: String {
        "brig: " + (message.split(separator: "\n").first.map(String.init) ?? message)
    }

    public var description: String { message }
}
