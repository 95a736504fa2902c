import BrigJSONRPC

@testable import BrigContent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A fresh private directory under /tmp, removed by `remove()`.
struct TempDir {
    let path: String

    init() {
        var template = Array("/tmp/brig-content-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = p.map { String(cString: $0) } ?? "/tmp/brig-content-test-failed"
    }

    func remove() {
        _ = path.withCString { p in
            // Test-only cleanup of a directory this test created.
            system("rm -rf '\(String(cString: p))'")
        }
    }
}

func mode(of path: String) -> UInt32 {
    var st = stat()
    guard stat(path, &st) == 0 else { return 0 }
    return UInt32(st.st_mode & 0o7777)
}

func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

/// Tag characters spelling `ascii`.
func tags(_ ascii: String) -> String {
    var s = ""
    for u in ascii.unicodeScalars { s.unicodeScalars.append(Unicode.Scalar(0xE0000 + u.value)!) }
    return s
}

func needs(_ guardian: ContentGuard, _ method: String, _ text: String) -> Bool {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer { guardian.needsInspection(method: method, result: $0) }
}
