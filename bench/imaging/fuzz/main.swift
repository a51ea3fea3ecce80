// libFuzzer entry point for the DICOM/NIfTI/PNG/JPEG readers. Build and run with
// bench/imaging/fuzz.sh; every input must either decode or throw ImagingError — never crash,
// hang, or allocate without bound.
import Foundation
import MedImaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    // Small limits keep each run fast and make "too large" paths reachable.
    let options = DecodeOptions(maxPixels: 1 << 20, maxTotalSamples: 1 << 22, maxInflatedBytes: 1 << 24)
    if let study = try? ImageDecoder.decode(data: data, filenameHint: nil, options: options),
        let frame = try? study.representativeFrame()
    {
        _ = Letterbox.fit(Renderer.render(frame), side: 64)
    }
    return 0
}
