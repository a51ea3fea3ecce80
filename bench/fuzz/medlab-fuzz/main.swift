// The one libFuzzer harness over every parser of outside input. Built and run by `make fuzz`
// (MEDLAB_FUZZ set, AddressSanitizer, coverage); by hand:
//   .build-fuzz/release/medlab-fuzz TARGET [libFuzzer flags] [corpus dirs or files]
// TARGET is one of FuzzTarget.all's names; every input must parse or throw the error its API
// answers with — never trap, hang, allocate without bound, or leak.
import CLibFuzzer
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 2, let target = FuzzTarget.all.first(where: { $0.name == arguments[1] }) else {
    let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: medlab-fuzz TARGET [libFuzzer options] [corpus...]; targets: \(names)\n".utf8))
    exit(2)
}
FuzzTarget.current = target

// libFuzzer reads its own flags and corpus folders from argv: drop the target name. The strings
// stay allocated for the process's life (libFuzzer keeps argv to re-run itself in fork modes).
var driverArguments = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
var argc = CInt(driverArguments.count - 1)
exit(
    driverArguments.withUnsafeMutableBufferPointer { buffer in
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            FuzzTarget.current?.run(data.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0))
            return 0
        }
    })
