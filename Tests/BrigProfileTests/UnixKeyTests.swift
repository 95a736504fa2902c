import Testing

@testable import BrigProfile

@Suite("sandbox.filesystem.unix")
struct UnixKeyTests {
    @Test func parsesAndExpandsLikeTheOtherLists() throws {
        let p = try load(
            """
            version: 1
            sandbox:
              filesystem:
                unix: ["$TMPDIR", "~/.ssh/agent.sock", /run/app/, /run/app]
            """)
        #expect(p.sandbox.unixPaths == ["/tmp/brig-1", "/home/u/.ssh/agent.sock", "/run/app"])
    }

    @Test func aNonListIsAnErrorWithItsLine() {
        let e = loadError("version: 1\nsandbox:\n  filesystem:\n    unix: 3\n")
        #expect(e?.description.hasPrefix("/tmp/p.yaml:4: sandbox.filesystem.unix: ") == true)
    }

    @Test func mergesUnderExtendsAndTheFlagAdds() throws {
        var o = ProfileOverrides()
        o.unixPaths = ["/run/user/1000/bus", "relative.sock"]
        let p = try load("version: 1\nextends: default\nsandbox:\n  filesystem: {unix: [/run/app]}\n", overrides: o)
        #expect(Array(p.sandbox.unixPaths.prefix(3)) == ["/tmp/brig-1", "/run/app", "/run/user/1000/bus"])
        #expect(p.sandbox.unixPaths.count == 4 && p.sandbox.unixPaths[3].hasPrefix("/") && p.sandbox.unixPaths[3].hasSuffix("/relative.sock"))
    }

    @Test func builtinProfilesGrantTheirPrivateTmp() throws {
        for name in ["default", "python", "node", "offline", "strict"] {
            let p = try ProfileLoader.load(name, context: testContext, overrides: .init())
            #expect(p.sandbox.unixPaths == ["/tmp/brig-1"], "\(name)")
        }
    }

    @Test func inheritFalseDropsTheParentsSockets() throws {
        let p = try load("version: 1\nextends: default\nsandbox:\n  filesystem: {inherit: false, unix: [/run/app]}\n")
        #expect(p.sandbox.unixPaths == ["/run/app"])
    }
}
