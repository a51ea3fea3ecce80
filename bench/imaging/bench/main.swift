// Times decode + window + letterbox to 896 for each file given, median of N runs (not a test).
import Foundation
import MedImaging

let args = Array(CommandLine.arguments.dropFirst())
let runs = 7
for path in args {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let study = try ImageDecoder.decode(data: data, filenameHint: path)
        let rgb = Renderer.render(try study.representativeFrame(), window: .preset(.lung))
        _ = Letterbox.fit(rgb, side: 896)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    times.sort()
    let name = (path as NSString).lastPathComponent.padding(toLength: 28, withPad: " ", startingAt: 0)
    print("medlab   \(name) " + String(format: "%8.1f ms (median of %d)", times[runs / 2], runs))
}
