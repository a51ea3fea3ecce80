import Foundation

/// Turns decoded samples into display pixels: VOI LUT or window, MONOCHROME1 inversion, and
/// colour scaling. This is the last stage of the DICOM grayscale pipeline (PS3.3 C.11);
/// the Modality LUT was already applied when the frame was decoded.
public enum Renderer {
    /// Renders one frame to 8-bit RGB. Grey frames are windowed with `window`; colour frames
    /// are scaled from `0...maxValue` to `0...255` (windows do not apply to colour).
    public static func render(_ image: MedImage, window: WindowChoice = .fileDefault) -> RGBImage {
        let grey = renderGray(image, window: window)
        if image.channels == 1 {
            var rgb = [UInt8](repeating: 0, count: grey.count * 3)
            for i in 0..<grey.count {
                let v = grey[i]
                rgb[3 * i] = v
                rgb[3 * i + 1] = v
                rgb[3 * i + 2] = v
            }
            return try! RGBImage(width: image.width, height: image.height, pixels: rgb)
        }
        return try! RGBImage(width: image.width, height: image.height, pixels: grey)
    }

    /// Renders to 8-bit samples with the image's own channel count (1 for grey, 3 for RGB).
    public static func renderGray(_ image: MedImage, window: WindowChoice = .fileDefault) -> [UInt8] {
        let n = image.samples.count
        var out = [UInt8](repeating: 0, count: n)
        if image.channels == 3 {
            let scale = 255 / max(image.maxValue, 1)
            image.samples.withUnsafeBufferPointer { s in
                for i in 0..<n { out[i] = UInt8(rounding: s[i] * scale) }
            }
            return out
        }
        let invert = image.photometric == .monochrome1
        // A VOI LUT table wins over the window only for the file's own default, as in pydicom.
        if window == .fileDefault, let lut = image.voiLUT, !lut.data.isEmpty {
            let scale = 255 / lut.outputMax
            image.samples.withUnsafeBufferPointer { s in
                for i in 0..<n {
                    var y = lut.lookup(s[i]) * scale
                    if invert { y = 255 - y }
                    out[i] = UInt8(rounding: y)
                }
            }
            return out
        }
        let level = resolve(window, for: image)
        image.samples.withUnsafeBufferPointer { s in
            for i in 0..<n {
                var y = level.apply(Double(s[i])) * 255
                if invert { y = 255 - y }
                out[i] = UInt8(rounding: y)
            }
        }
        return out
    }

    /// The concrete window a choice means for this image. Min–max uses LINEAR_EXACT so that
    /// the smallest value is exactly black and the largest exactly white.
    public static func resolve(_ choice: WindowChoice, for image: MedImage) -> WindowLevel {
        switch choice {
        case .explicit(let w): return w
        case .preset(let p): return p.window
        case .fileDefault:
            if let w = image.defaultWindow, w.width > 0 { return w }
            return resolve(.minMax, for: image)
        case .minMax:
            let (lo, hi) = image.range
            let width = Double(hi - lo)
            if width <= 0 { return WindowLevel(center: Double(lo) - 0.5, width: 1, function: .linearExact) }
            return WindowLevel(center: Double(lo) + width / 2, width: width, function: .linearExact)
        }
    }
}
