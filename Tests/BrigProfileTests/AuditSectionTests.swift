import Testing

@testable import BrigProfile

@Suite("The audit: section")
struct AuditSectionTests {
    @Test("Defaults when the section is absent or empty")
    func defaults() throws {
        for yaml in ["version: 1\n", "version: 1\naudit:\n", "version: 1\naudit: {}\n"] {
            let a = try load(yaml).audit
            #expect(a == AuditSettings())
            #expect(a.enabled)
            #expect(a.path == nil)
            #expect(a.payloads == .redacted)
            #expect(a.keyFile == nil)
            #expect(a.anchor == nil)
            #expect(a.anchorEveryRecords == 100)
            #expect(a.anchorEverySeconds == 5)
            #expect(a.rotateMaxBytes == 64 << 20)
            #expect(a.rotateKeep == 10)
            #expect(a.fsync == .interval)
            #expect(a.onFailure == .block)
            #expect(a.redactKeys.isEmpty)
            #expect(a.syslog == false)
        }
    }

    @Test("Every key parsed, variables expanded")
    func everyKey() throws {
        let yaml = """
            version: 1
            audit:
              enabled: false
              path: "$XDG_STATE_HOME/brig/audit/x.jsonl"
              payloads: hash
              key_file: "~/.config/brig/audit.key"
              anchor: "$HOME/anchors/x.anchor"
              anchor_every: {records: 7, seconds: 0.5}
              rotate: {max_bytes: 1MiB, keep: 3}
              fsync: always
              on_failure: continue
              redact_keys: [Pin, otp]
              syslog: true

            """
        let a = try load(yaml).audit
        #expect(a.enabled == false)
        #expect(a.path == "/home/u/.local/state/brig/audit/x.jsonl")
        #expect(a.payloads == .hash)
        #expect(a.keyFile == "/home/u/.config/brig/audit.key")
        #expect(a.anchor == "/home/u/anchors/x.anchor")
        #expect(a.anchorEveryRecords == 7)
        #expect(a.anchorEverySeconds == 0.5)
        #expect(a.rotateMaxBytes == 1 << 20)
        #expect(a.rotateKeep == 3)
        #expect(a.fsync == .always)
        #expect(a.onFailure == .continue)
        #expect(a.redactKeys == ["pin", "otp"])
        #expect(a.syslog)
    }

    @Test("path \"-\" means stderr; XDG_STATE_HOME from the environment")
    func stderrAndXDG() throws {
        #expect(try load("version: 1\naudit: {path: \"-\"}\n").audit.path == "-")
        let ctx = ProfileContext(home: "/home/u", workdir: "/w", tmpdir: "/tmp/t", environment: ["XDG_STATE_HOME": "/state"])
        #expect(try load("version: 1\naudit: {anchor: $XDG_STATE_HOME/a}\n", context: ctx).audit.anchor == "/state/a")
    }

    @Test("extends: the child overrides scalars and appends redact_keys")
    func merging() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        try write(
            "version: 1\naudit:\n  payloads: none\n  fsync: never\n  redact_keys: [pin]\n  rotate: {keep: 2}\n",
            to: dir + "/base.yaml")
        try write(
            "version: 1\nextends: ./base.yaml\naudit:\n  payloads: full\n  redact_keys: [otp, pin]\n",
            to: dir + "/child.yaml")
        let a = try ProfileLoader.load(dir + "/child.yaml", context: testContext).audit
        #expect(a.payloads == .full)
        #expect(a.fsync == .never)
        #expect(a.rotateKeep == 2)
        #expect(a.redactKeys == ["pin", "otp"])
    }

    static let errors: [(String, String)] = [
        (
            "version: 1\naudit:\n  paylods: hash\n",
            "/tmp/p.yaml:3: audit.paylods: unknown key (did you mean payloads?); expected one of: enabled, path,"
        ),
        ("version: 1\naudit: [x]\n", "/tmp/p.yaml:2: audit: expected a mapping, got a list"),
        (
            "version: 1\naudit:\n  payloads: redact\n",
            "/tmp/p.yaml:3: audit.payloads: expected redacted, hash, none, or full, got \"redact\""
        ),
        (
            "version: 1\naudit:\n  fsync: sometimes\n",
            "/tmp/p.yaml:3: audit.fsync: expected always, interval, or never, got \"sometimes\""
        ),
        (
            "version: 1\naudit:\n  on_failure: drop\n",
            "/tmp/p.yaml:3: audit.on_failure: expected block or continue, got \"drop\""
        ),
        ("version: 1\naudit:\n  enabled: maybe\n", "/tmp/p.yaml:3: audit.enabled: expected true or false, got \"maybe\""),
        ("version: 1\naudit:\n  syslog: [x]\n", "/tmp/p.yaml:3: audit.syslog: expected true or false, got a list"),
        ("version: 1\naudit:\n  path: relative/log.jsonl\n", "/tmp/p.yaml:3: audit.path: \"relative/log.jsonl\" is not an absolute path"),
        ("version: 1\naudit:\n  key_file: $NOPE/k\n", "/tmp/p.yaml:3: audit.key_file: unknown variable $NOPE"),
        (
            "version: 1\naudit:\n  rotate:\n    max_bytes: 64 megs\n",
            "/tmp/p.yaml:4: audit.rotate.max_bytes: expected a size like 64MiB"
        ),
        (
            "version: 1\naudit:\n  rotate: {max_bytes: 10}\n",
            "/tmp/p.yaml:3: audit.rotate.max_bytes: must be at least 4096 bytes, got 10"
        ),
        (
            "version: 1\naudit:\n  rotate: {keep: 0}\n",
            "/tmp/p.yaml:3: audit.rotate.keep: expected a whole number greater than 0, got \"0\""
        ),
        ("version: 1\naudit:\n  rotate: {kep: 1}\n", "/tmp/p.yaml:3: audit.rotate.kep: unknown key (did you mean keep?)"),
        (
            "version: 1\naudit:\n  anchor_every: {records: -1}\n",
            "/tmp/p.yaml:3: audit.anchor_every.records: expected a whole number greater than 0"
        ),
        (
            "version: 1\naudit:\n  anchor_every: {seconds: 0}\n",
            "/tmp/p.yaml:3: audit.anchor_every.seconds: expected a number of seconds greater than 0"
        ),
        (
            "version: 1\naudit:\n  anchor_every: {minutes: 1}\n",
            "/tmp/p.yaml:3: audit.anchor_every.minutes: unknown key; expected one of: records, seconds"
        ),
        (
            "version: 1\naudit:\n  redact_keys: \"password\"\n",
            "/tmp/p.yaml:3: audit.redact_keys: expected a list, got \"password\""
        ),
        (
            "version: 1\naudit:\n  redact_keys: [\"a b\"]\n",
            "/tmp/p.yaml:3: audit.redact_keys: \"a b\" is not a key name"
        ),
    ]

    @Test("Errors are one line: FILE:LINE: audit.KEY: message", arguments: errors)
    func errorMessages(_ yaml: String, _ expected: String) throws {
        let error = try #require(loadError(yaml))
        #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        #expect(!error.description.contains("\n"))
    }
}
