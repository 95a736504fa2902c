/// What `brig --version` names: brig's version, and the commit it was built from.
///
/// An ordinary `swift build` compiles the fallback below: the version of the tree (the same
/// number as `VERSION`, which scripts/stamp-version checks) and no commit. The release build
/// (scripts/release-build, used by scripts/package, scripts/install and scripts/bench) first runs
/// scripts/stamp-version, which writes `BuildStamp.swift` beside this file (gitignored) from
/// `VERSION` and `git rev-parse`, then compiles with `-Xswiftc -DBRIG_STAMPED`, which selects
/// that file's values instead. So git is read by a script, only for a release build, and a build
/// without the flag never sees a stale stamp.
enum BuildInfo {
    /// The version number, e.g. `0.1.0` (also written into the audit trail's session records).
    static let version = BuildStamp.version

    /// The commit brig was built from (12 hex digits, `+modified` when the tree had changes),
    /// or nil for a build without a stamp.
    static let commit: String? = BuildStamp.commit.isEmpty ? nil : BuildStamp.commit

    /// The line `brig --version` prints.
    static var versionLine: String {
        "brig \(version) (" + (commit.map { "commit \($0)" } ?? "commit unknown: built without scripts/stamp-version") + ")"
    }
}

#if !BRIG_STAMPED
/// The fallback for builds without a stamp. Keep `version` equal to the VERSION file.
private enum BuildStamp {
    static let version = "0.1.0"
    static let commit = ""
}
#endif
