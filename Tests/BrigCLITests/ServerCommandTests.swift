import ArgumentParser
import Testing

@testable import BrigCLI

@Suite("The server command after --, as run and learn take it")
struct ServerCommandTests {
    static let usage = "brig [run] [OPTIONS] -- COMMAND [ARGS...]"

    func validate(_ command: [String]) throws {
        try ServerCommand.validate(command, for: Brig.Run(), usage: ServerCommandTests.usage)
    }

    @Test(arguments: [
        ["--", "/bin/true"], ["/bin/true"], ["--", "uvx", "mcp-server-time", "--local-timezone", "UTC"], ["--", "-x"], ["--", "--"],
    ])
    func acceptsACommand(command: [String]) throws {
        try validate(command)
    }

    @Test(arguments: [[String](), ["--"]])
    func refusesNoCommand(command: [String]) throws {
        let error = #expect(throws: ValidationError.self) { try validate(command) }
        #expect(error?.message == "no server command given; usage: \(ServerCommandTests.usage)")
    }

    @Test(arguments: ["--bogus", "-x", "--profile=x"])
    func refusesAnOptionBeforeTheDoubleDash(option: String) throws {
        let error = #expect(throws: ValidationError.self) { try validate([option, "--", "/bin/true"]) }
        #expect(error?.message == "unknown option '\(option)'; put the server command after --")
    }

    @Test(arguments: ["-h", "--help"])
    func helpBeforeTheCommandIsAHelpRequest(flag: String) throws {
        #expect(throws: CleanExit.self) { try validate([flag]) }
        #expect(throws: CleanExit.self) { try validate([flag, "--", "/bin/true"]) }
    }

    @Test func theParsedRunValidatesItsCommand() throws {
        #expect(throws: (any Error).self) { try Brig.Run.parse(["--grace", "1"]) }
        let run = try Brig.Run.parse(["--grace", "1", "--", "/bin/true", "-v"])
        #expect(run.command == ["--", "/bin/true", "-v"])
    }
}
