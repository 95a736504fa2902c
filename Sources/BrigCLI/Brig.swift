public import ArgumentParser

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The root command: `brig [run] [OPTIONS] -- COMMAND [ARGS...]`.
public struct Brig: ParsableCommand {
    /// brig's version number (BuildInfo: the release build stamps it with the commit too).
    public static let version = BuildInfo.version

    public static let configuration = CommandConfiguration(
        commandName: "brig",
        abstract: "Run an MCP stdio server confined, policed and audited.",
        discussion: """
            brig starts COMMAND as a child process, relays the newline-delimited JSON-RPC of \
            the MCP stdio transport between its own stdin/stdout and the child, and exits \
            with the child's code.

            In a host's config (Claude Desktop, VS Code, Cursor), put brig first:
              "command": "brig",
              "args": ["--", "uvx", "mcp-server-time"]
              "args": ["--max-message-size", "4MiB", "--", "npx", "-y", "pkg"]

            In a terminal:
              brig -- python3 -m mcp_server_time
              brig run --grace 2 -- ./my-server --flag

            Exit codes: the child's own; 128+N when it died of signal N;
            125 for brig's own errors; 126 when COMMAND cannot be executed;
            127 when it is not found. stdout carries JSON-RPC only; brig's
            reports and the child's stderr go to stderr.

            Every option of the default subcommand: brig run --help
            """,
        version: BuildInfo.versionLine,
        subcommands: [Run.self, Check.self, Profiles.self, Learn.self, Audit.self, Pins.self, Wrap.self, Unwrap.self],
        defaultSubcommand: Run.self
    )

    public init() {}

    /// Parses, runs and exits: the one place the process ends. Every command reports its
    /// failures by throwing (a `BrigCLIError`, an `ExitCode`, or ArgumentParser's own errors);
    /// `ending(for:)` turns what it threw into the exit code and the text to print.
    public static func main(_ arguments: [String]) -> Never {
        let ending = Brig.ending(running: arguments)
        if let text = ending.standardOutput { print(text) }
        if var text = ending.standardError {
            fflush(stdout)  // what the command printed comes before the line that says why it failed
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
        Glibc.exit(ending.code)
    }

    /// Parses and runs the command `arguments` name; how the process is to end.
    static func ending(running arguments: [String]) -> Ending {
        StartupTrace.mark("main")
        do {
            var command = try parseAsRoot(arguments)
            StartupTrace.mark("options parsed")
            try command.run()
            return Ending(code: 0)
        } catch {
            return Brig.ending(for: error)
        }
    }

    /// How the process ends: its exit code, what goes to stdout (help, version) and to stderr.
    struct Ending: Equatable {
        var code: Int32
        var standardOutput: String?
        var standardError: String?
    }

    /// What a command's error means for the process: `ExitCode` is its code, already reported;
    /// brig's own errors are their code and one line on stderr; ArgumentParser's help and version
    /// are printed on stdout (exit 0); every other error, usage errors included, is one line, 125.
    static func ending(for error: any Error) -> Ending {
        switch error {
        case let code as ExitCode:
            return Ending(code: code.rawValue)
        case let failure as BrigCLIError:
            return Ending(code: failure.code, standardError: failure.line + "\n")
        default:
            if exitCode(for: error) == .success {
                return Ending(code: 0, standardOutput: fullMessage(for: error))
            }
            return Ending(code: 125, standardError: BrigCLIError.brig(message(for: error)).line + "\n")
        }
    }
}
