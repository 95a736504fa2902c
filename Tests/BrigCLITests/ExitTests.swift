import ArgumentParser
import Testing

@testable import BrigCLI

@Suite("How a command's error ends the process: the exit code and the one line on stderr")
struct EndingTests {
    @Test func brigsOwnErrorIsExit125AndItsFirstLine() {
        let ending = Brig.ending(for: BrigCLIError.brig("first line\nsecond line\nthird"))
        #expect(ending == Brig.Ending(code: 125, standardOutput: nil, standardError: "brig: first line\n"))
    }

    @Test func oneLineMessageIsShownWhole() {
        #expect(Brig.ending(for: BrigCLIError.brig("profile.yaml:4: sandbox.bogus: unknown key")).standardError == "brig: profile.yaml:4: sandbox.bogus: unknown key\n")
    }

    @Test func leadingNewlinesDoNotEmptyTheLine() {
        // As Brig.fail did: the first non-empty line.
        #expect(BrigCLIError.brig("\n\nwhy").line == "brig: why")
        #expect(BrigCLIError.brig("").line == "brig: ")
    }

    @Test(arguments: [
        (BrigCLIError.notFound("mcp-x"), Int32(127), "brig: mcp-x: command not found\n"),
        (BrigCLIError.cannotRun("./srv"), Int32(126), "brig: ./srv: permission denied (not an executable file)\n"),
        (BrigCLIError.failed("damaged: a.jsonl:3: chain"), Int32(1), "brig: damaged: a.jsonl:3: chain\n"),
        (BrigCLIError(code: 42, message: "any code\nmore"), Int32(42), "brig: any code\n"),
    ])
    func eachKindHasItsCode(error: BrigCLIError, code: Int32, line: String) {
        #expect(Brig.ending(for: error) == Brig.Ending(code: code, standardOutput: nil, standardError: line))
    }

    @Test func anExitCodeIsThatCodeWithNothingPrinted() {
        #expect(Brig.ending(for: ExitCode(6)) == Brig.Ending(code: 6))
        #expect(Brig.ending(for: ExitCode(143)) == Brig.Ending(code: 143))
        #expect(Brig.ending(for: ExitCode.success) == Brig.Ending(code: 0))
    }

    @Test func anErrorOfAnotherKindIs125() {
        struct Odd: Error, CustomStringConvertible { var description: String { "odd failure\nsecond" } }
        let ending = Brig.ending(for: Odd())
        #expect(ending.code == 125)
        #expect(ending.standardOutput == nil)
        #expect(ending.standardError == "brig: odd failure\n")
    }

    /// What `Brig.main` does with these arguments, which must not get as far as starting a server.
    func brig(_ arguments: [String]) -> Brig.Ending { Brig.ending(running: arguments) }

    @Test func aValidationErrorIsUsage125() {
        let ending = brig(["run", "--grace", "100000", "--", "/bin/true"])
        #expect(ending == Brig.Ending(code: 125, standardError: "brig: --grace: '100000.0' is not a number of seconds between 0 and 86400\n"))
    }

    @Test func anUnknownOptionBeforeTheServerIs125() {
        let ending = brig(["--grace", "1", "--bogus", "--", "/bin/true"])
        #expect(ending == Brig.Ending(code: 125, standardError: "brig: unknown option '--bogus'; put the server command after --\n"))
    }

    @Test func anUnknownOptionOfASubcommandIs125OnOneLine() throws {
        let ending = brig(["check", "--no-such-option"])
        #expect(ending.code == 125)
        #expect(ending.standardOutput == nil)
        let line = try #require(ending.standardError)
        #expect(line.hasPrefix("brig: ") && line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        #expect(line.contains("--no-such-option"))
    }

    @Test(arguments: [["--help"], ["run", "--help"], ["check", "-h"], ["help", "check"], ["learn", "--help"]])
    func helpIsExit0OnStdout(arguments: [String]) throws {
        let ending = brig(arguments)
        #expect(ending.code == 0)
        #expect(ending.standardError == nil)
        #expect(ending.standardOutput?.contains("USAGE:") == true)
    }

    @Test func versionIsExit0OnStdout() throws {
        let ending = brig(["--version"])
        #expect(ending == Brig.Ending(code: 0, standardOutput: BuildInfo.versionLine))
    }
}
