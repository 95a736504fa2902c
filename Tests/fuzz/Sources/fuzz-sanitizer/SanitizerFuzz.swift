import BrigContent

/// Arbitrary bytes (decoded as UTF-8, invalid sequences becoming U+FFFD, as a JSON string's
/// bytes never are but a server's text may be) through `Sanitizer.sanitize`. Beyond not
/// crashing, the output must hold none of the scalars the sanitizer promises to remove, save
/// a ZWNJ/ZWJ it kept between two visible letters; sanitizing twice must change nothing more;
/// and "unchanged" must mean the very same text.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = Sanitizer.sanitize(text)
    for scalar in result.text.unicodeScalars {
        let v = scalar.value
        if v == 0x200C || v == 0x200D { continue }
        if let kind = Sanitizer.classify(v) {
            fatalError("sanitized text still holds U+\(String(v, radix: 16, uppercase: true)) (\(kind.rawValue))")
        }
    }
    if !result.changed, result.text != text { fatalError("no removals reported, but the text changed") }
    if result.changed, result.text == text { fatalError("removals reported, but the text is unchanged") }
    if result.removals.contains(where: { $0.count <= 0 }) { fatalError("a removal with count \(result.removals)") }
    let again = Sanitizer.sanitize(result.text)
    if again.changed { fatalError("sanitizing twice removed more: \(again.removals)") }
    return 0
}
