import BrigProfile

/// A context that names nothing real, so a profile cannot reach the fuzzing machine's home.
let fuzzContext = ProfileContext(
    home: "/nonexistent/home", workdir: "/nonexistent/work",
    tmpdir: "/nonexistent/tmp", environment: [:])

/// Arbitrary text as a profile file. The loader's contract: a `Profile`, or a `ProfileError`
/// (typed throws make that the only error) whose description is one line, because `brig check`
/// and `brig run` print it as `file:line: key: message`.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try ProfileLoader.load(yaml: text, source: "/nonexistent/fuzz/profile.yaml", context: fuzzContext)
    } catch {
        let description = error.description
        if description.contains(where: \.isNewline) {
            fatalError("a ProfileError spans several lines: \(String(reflecting: description))")
        }
        if error.message.isEmpty { fatalError("a ProfileError without a message: \(description)") }
    }
    return 0
}
