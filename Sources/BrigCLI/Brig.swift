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

    /// Parses, runs and exits: usage and brig's own errors exit 125 with one line on stderr.
    public static func main(_ arguments: [String]) -> Never {
        StartupTrace.mark("main")
        do {
            var command = try parseAsRoot(arguments)
            StartupTrace.mark("options parsed")
            try command.run()
            Glibc.exit(0)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                let text = fullMessage(for: error)
                print(text)
                Glibc.exit(0)
            }
            fail(message(for: error))
        }
    }

    /// Prints `brig: message` (one line) on stderr and exits 125.
    static func fail(_ message: String, code: Int32 = 125) -> Never {
        let line = message.split(separator: "\n").first.map(String.init) ?? message
        var text = "brig: \(line)\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        Glibc.exit(code)
    }
}
