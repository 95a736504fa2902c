import Testing

@testable import BrigHostConfig

/// Parses `text` (which must parse) for the tests.
func document(_ text: String) throws -> JSONCDocument {
    try JSONCDocument(bytes: Array(text.utf8))
}

/// The text of `bytes`.
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A fresh temporary directory.
struct Scratch {
    let path: String

    init() throws {
        var template = Array("/tmp/brig-hostconfig-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = try #require(made.map { String(cString: $0) })
    }

    func mode(_ file: String) -> UInt32 {
        var st = stat()
        guard stat(file, &st) == 0 else { return 0 }
        return UInt32(st.st_mode & 0o7777)
    }
}
