import Foundation

/// Separable resampling of 8-bit RGB: area averaging when shrinking (each output pixel is the
/// coverage-weighted mean of the source pixels under it, so nothing aliases) and linear
/// interpolation when enlarging.
enum Resampler {
    /// One output sample: the first source index it reads and the normalised weights.
    struct Tap {
        var start: Int
        var weights: [Float]
    }

    static func taps(from src: Int, to dst: Int) -> [Tap] {
        let scale = Double(src) / Double(dst)
        var taps: [Tap] = []
        taps.reserveCapacity(dst)
        if scale >= 1 {
            for o in 0..<dst {
                let a = Double(o) * scale
                let b = Double(o + 1) * scale
                let first = Int(a.rounded(.down))
                let last = min(src - 1, Int((b - 1e-9).rounded(.down)))
                var w: [Float] = []
                for s in first...max(first, last) {
                    let cover = min(b, Double(s + 1)) - max(a, Double(s))
                    w.append(Float(max(0, cover)))
                }
                let sum = w.reduce(0, +)
                taps.append(Tap(start: first, weights: w.map { $0 / max(sum, 1e-12) }))
            }
        } else {
            for o in 0..<dst {
                // Pixel centres line up: output centre (o + 0.5) sits at source (o + 0.5) * scale.
                let x = max(0, min(Double(src - 1), (Double(o) + 0.5) * scale - 0.5))
                let i = min(Int(x), max(0, src - 2))
                let f = Float(x - Double(i))
                taps.append(src == 1 ? Tap(start: 0, weights: [1]) : Tap(start: i, weights: [1 - f, f]))
            }
        }
        return taps
    }

    /// Resizes `image` to `width`×`height`.
    static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        if width == image.width && height == image.height { return image }
        let xt = taps(from: image.width, to: width)
        let yt = taps(from: image.height, to: height)
        let sw = image.width
        // Horizontal pass into floats, then vertical pass into bytes.
        var mid = [Float](repeating: 0, count: width * image.height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { m in
                for y in 0..<image.height {
                    let row = y * sw * 3
                    for x in 0..<width {
                        let t = xt[x]
                        var r: Float = 0
                        var g: Float = 0
                        var b: Float = 0
                        for (k, w) in t.weights.enumerated() {
                            let i = row + (t.start + k) * 3
                            r += Float(src[i]) * w
                            g += Float(src[i + 1]) * w
                            b += Float(src[i + 2]) * w
                        }
                        let o = (y * width + x) * 3
                        m[o] = r
                        m[o + 1] = g
                        m[o + 2] = b
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        mid.withUnsafeBufferPointer { m in
            for y in 0..<height {
                let t = yt[y]
                for x in 0..<width * 3 {
                    var v: Float = 0
                    for (k, w) in t.weights.enumerated() { v += m[(t.start + k) * width * 3 + x] * w }
                    out[y * width * 3 + x] = UInt8(clamping: Int(v.rounded()))
                }
            }
        }
        return try! RGBImage(width: width, height: height, pixels: out)
    }
}

extension RGBImage {
    /// A copy whose long side is at most `maxSide` pixels (area-averaged), for thumbnails.
    public func shrunk(toFit maxSide: Int) -> RGBImage {
        let longSide = max(width, height)
        guard longSide > maxSide, maxSide > 0 else { return self }
        let scale = Double(maxSide) / Double(longSide)
        return Resampler.resize(
            self, width: max(1, Int((Double(width) * scale).rounded())),
            height: max(1, Int((Double(height) * scale).rounded())))
    }
}
