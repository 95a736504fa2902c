import BrigSystem
import Testing

@testable import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A fresh directory under /tmp, removed by the caller.
func temporaryDirectory() throws -> String {
    var template = Array("/tmp/brig-system-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    let path = try #require(made)
    return String(cString: path)
}

func removeTree(_ path: String) {
    _ = path.withCString { p in system("rm -rf '\(String(cString: p))'") }
}

@Suite("Sizes: one spelling for profiles and the command line")
struct ByteSizeTests {
    @Test(
        "Binary, decimal and short units, spaces, fractions, unlimited",
        arguments: [
            ("65536", 65536), ("64KiB", 65536), ("64 KiB", 65536), ("16MiB", 16 << 20), ("1GiB", 1 << 30),
            ("2TiB", 2 << 40), ("64K", 65536), ("16M", 16 << 20), ("1G", 1 << 30), ("64KB", 64_000),
            ("16MB", 16_000_000), ("1GB", 1_000_000_000), ("1TB", 1_000_000_000_000), ("512B", 512), ("0", 0),
            ("1.5MiB", 3 << 19), ("0.5K", 512), ("1.0000000000000000000001KiB", 1024), (" 8MiB\t", 8 << 20),
        ] as [(String, UInt64)])
    func accepted(text: String, bytes: UInt64) {
        #expect(ByteSize.parse(text) == bytes, "\(text)")
    }

    @Test("Refused: signs, junk, empty parts, overflow, UInt64.max itself")
    func refused() {
        for text in [
            "", "-1", "+1", "1e6", "MiB", "1.MiB", ".5MiB", "1..5K", "12 34", "1 XiB", "0x10", "18446744073709551615",
            "16777216TiB", "1,5MiB", "１MiB",
        ] {
            #expect(ByteSize.parse(text) == nil, "\(text)")
        }
        #expect(ByteSize.parse("unlimited") == ByteSize.unlimited)
        #expect(ByteSize.parse("18446744073709551614") == UInt64.max - 1)
    }
}

@Suite("Hex")
struct HexTests {
    @Test("Encode lower case, decode either case, refuse odd lengths and non-digits")
    func roundTrip() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa5, 0xff]
        #expect(Hex.encode(bytes) == "000fa5ff")
        #expect(Hex.decode("000FA5ff") == bytes)
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        for c in UInt8(0)...UInt8(255) {
            let expected: UInt8? =
                (0x30...0x39).contains(c)
                ? c - 0x30
                : (0x61...0x66).contains(c) ? c - 0x57 : (0x41...0x46).contains(c) ? c - 0x37 : nil
            #expect(Hex.value(ofDigit: c) == expected)
        }
    }
}

@Suite("Byte search")
struct ByteSearchTests {
    @Test("contains agrees with a naive search on every placement")
    func agreesWithNaive() {
        let hay = Array("abcabxabcabcdab".utf8)
        for length in 0...4 {
            for start in 0...(hay.count - length) {
                let needle = Array(hay[start..<(start + length)])
                #expect(ByteSearch.contains(hay, needle))
            }
        }
        #expect(!ByteSearch.contains(hay, Array("abcabd".utf8)))
        #expect(!ByteSearch.contains(Array("ab".utf8), Array("abc".utf8)))
        #expect(ByteSearch.contains([UInt8](), []))
        #expect(!ByteSearch.contains([UInt8](), [1]))
        #expect(ByteSearch.firstIndex(of: Array("abc".utf8), in: hay, from: 1) == 6)
        #expect(ByteSearch.firstIndex(of: Array("zz".utf8), in: hay) == nil)
    }

    @Test("forEach visits each occurrence in order and stops when told")
    func forEachStops() {
        let hay = Array("a_b_c_d".utf8)
        var seen: [Int] = []
        hay.withUnsafeBufferPointer { b in
            ByteSearch.forEach(UInt8(ascii: "_"), in: b) {
                seen.append($0); return true
            }
        }
        #expect(seen == [1, 3, 5])
        seen = []
        hay.withUnsafeBufferPointer { b in
            ByteSearch.forEach(UInt8(ascii: "_"), in: b) {
                seen.append($0); return seen.count < 2
            }
        }
        #expect(seen == [1, 3])
    }
}

@Suite("Files", .serialized)
struct FileSystemTests {
    @Test("contents: the bytes, or the path and errno; EFBIG past the limit")
    func contents() throws {
        let dir = try temporaryDirectory()
        defer { removeTree(dir) }
        let path = dir + "/f"
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(FileSystem.write(path, bytes))
        #expect(try FileSystem.contents(of: path) == bytes)
        #expect(throws: SystemError(path, code: EFBIG)) { try FileSystem.contents(of: path, limit: 1000) }
        #expect(throws: SystemError(dir + "/missing", code: ENOENT)) { try FileSystem.contents(of: dir + "/missing") }
        #expect(FileSystem.read(dir + "/missing") == nil)
        let e = SystemError(dir + "/missing", code: ENOENT)
        #expect(e.description == dir + "/missing: No such file or directory")
    }

    @Test("replace: the new bytes and mode, no temporary left, the old file intact when the write cannot happen")
    func replace() throws {
        let dir = try temporaryDirectory()
        defer { removeTree(dir) }
        let path = dir + "/state.json"
        try FileSystem.replace(path, with: Array("one".utf8), mode: 0o600)
        try FileSystem.replace(path, with: Array("two".utf8), mode: 0o640)
        #expect(FileSystem.read(path) == Array("two".utf8))
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o640)
        #expect(listing(dir) == ["state.json"])
        // A directory in the way of the rename: refused, the temporary removed.
        let blocked = dir + "/blocked"
        #expect(mkdir(blocked, 0o700) == 0 && mkdir(blocked + "/x", 0o700) == 0)
        #expect(throws: SystemError.self) { try FileSystem.replace(blocked, with: [1]) }
        #expect(listing(dir) == ["blocked", "state.json"])
    }

    @Test("makeDirectories: creates the missing ones with the mode, refuses a file in the way")
    func makeDirectories() throws {
        let dir = try temporaryDirectory()
        defer { removeTree(dir) }
        try FileSystem.makeDirectories(dir + "/a/b/c", mode: 0o700)
        #expect(FileSystem.isDirectory(dir + "/a/b/c"))
        var st = stat()
        #expect(stat(dir + "/a/b", &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(FileSystem.write(dir + "/file", []))
        #expect(throws: SystemError(dir + "/file: cannot create directory", code: ENOTDIR)) {
            try FileSystem.makeDirectories(dir + "/file")
        }
        #expect(throws: SystemError.self) { try FileSystem.makeDirectories(dir + "/file/below") }
    }

    @Test("Paths: parent, normalize")
    func paths() {
        #expect(FileSystem.parent(of: "/x") == "/")
        #expect(FileSystem.parent(of: "/a/b/c") == "/a/b")
        #expect(FileSystem.parent(of: "rel") == ".")
        #expect(FileSystem.normalize("/a//b/./c/../d/") == "/a/b/d")
        #expect(FileSystem.normalize("/../..") == "/")
    }

    func listing(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

@Suite("State directory and environment")
struct StateDirectoryTests {
    @Test("XDG_STATE_HOME when absolute, else HOME, else the effective user's home")
    func resolution() {
        #expect(StateDirectory.brig(environment: ["XDG_STATE_HOME": "/x/state", "HOME": "/h"]) == "/x/state/brig")
        #expect(StateDirectory.brig(environment: ["XDG_STATE_HOME": "relative", "HOME": "/h"]) == "/h/.local/state/brig")
        #expect(StateDirectory.brig(environment: ["HOME": "/h/"]) == "/h/.local/state/brig")
        let home = String(cString: getpwuid(geteuid())!.pointee.pw_dir)
        #expect(StateDirectory.brig(environment: [:]) == (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/.local/state/brig")
    }

    @Test("The environment snapshot holds what getenv sees")
    func snapshot() {
        setenv("BRIG_SYSTEM_TEST", "a=b", 1)
        defer { unsetenv("BRIG_SYSTEM_TEST") }
        let env = ProcessEnvironment.snapshot()
        #expect(env["BRIG_SYSTEM_TEST"] == "a=b")
        #expect(env["PATH"] == getenv("PATH").map { String(cString: $0) })
    }
}

@Suite("Threads, EINTR", .serialized)
struct OSThreadTests {
    @Test("A started thread runs with its name, and with signals blocked when asked")
    func startsNamedAndMasked() throws {
        var before = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &before)
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        final class Seen: @unchecked Sendable { var name = ""; var termBlocked = false; var segvBlocked = true }
        let seen = Seen()
        let doneFD = fds[1]
        let started = OSThread.start(name: "brig-test-thr", blockingSignals: true) {
            let comm = FileSystem.read("/proc/thread-self/comm") ?? []
            seen.name = String(decoding: comm.filter { $0 != 0x0A }, as: UTF8.self)
            var mask = sigset_t()
            pthread_sigmask(SIG_SETMASK, nil, &mask)
            seen.termBlocked = sigismember(&mask, SIGTERM) == 1
            seen.segvBlocked = sigismember(&mask, SIGSEGV) == 1
            FileSystem.writeAll(doneFD, [1])
        }
        #expect(started)
        var byte: UInt8 = 0
        #expect(read(fds[0], &byte, 1) == 1)
        #expect(seen.name == "brig-test-thr")
        #expect(seen.termBlocked && !seen.segvBlocked)
        // The caller's own mask is as it was (whatever other tests of this process left in it).
        var after = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &after)
        #expect(sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM))
        #expect(sigismember(&after, SIGUSR2) == sigismember(&before, SIGUSR2))
    }

    @Test("retryingInterrupted calls again on EINTR only")
    func retries() {
        var calls = 0
        let r = retryingInterrupted { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(r == 7 && calls == 3)
        calls = 0
        let failed = retryingInterrupted { () -> Int32 in
            calls += 1
            errno = EBADF
            return -1
        }
        #expect(failed == -1 && calls == 1 && errno == EBADF)
    }

    @Test("The monotonic clock moves forward")
    func clock() {
        let a = MonotonicClock.nanoseconds()
        usleep(2000)
        let b = MonotonicClock.nanoseconds()
        #expect(b > a && b - a >= 2_000_000)
    }
}
