import CFuzzDriver

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer reads its own options and corpus directories from the arguments and calls
// `fuzzOneInput` once per input.
var argumentCount = CommandLine.argc
var argumentVector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argumentCount, &argumentVector) { data, size in fuzzOneInput(data!, size) })
