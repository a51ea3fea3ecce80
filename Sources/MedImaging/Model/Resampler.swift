import Foundation

/// Separable resampling of 8-bit RGB with the filter MedGemma's training pipeline uses: Hugging
/// Face's Gemma 3 image processor resizes with PIL's bilinear filter, a triangle whose support
/// widens with the shrink factor (so shrinking averages, nothing aliases) and plain linear
/// interpolation when enlarging. The coefficients are computed as PIL computes them.
///
/// An axis may be padded: the image then sits at `offset` on a longer axis of `padded` pixels of
/// the padding colour, and the whole padded axis is resampled, exactly as padding the original to
/// a square and resizing the square would, without building the padded copy.
enum Resampler {
    /// One output sample: the first source index it reads, the normalised weights, and the share
    /// of the weight that falls on padding.
    struct Tap {
        var start: Int
        var weights: [Float]
        var padding: Float
    }

    /// Taps from a `src`-pixel axis, placed at `offset` on an axis of `padded` pixels, to `dst` pixels.
    static func taps(from src: Int, to dst: Int, padded: Double? = nil, offset: Double = 0) -> [Tap] {
        let length = padded ?? Double(src)
        let scale = length / Double(dst)
        let filterScale = max(scale, 1)
        let support = filterScale  // the triangle's radius is 1 at unit scale
        var taps: [Tap] = []
        taps.reserveCapacity(dst)
        for o in 0..<dst {
            let center = (Double(o) + 0.5) * scale
            // PIL: the padded pixels whose centres lie within the support, clipped to the axis.
            let first = max(0, Int(center - support + 0.5))
            let last = min(Int(length.rounded(.up)), Int(center + support + 0.5))
            var total = 0.0
            var weights: [Float] = []
            var start = -1
            for j in first..<max(first, last) {
                let x = (Double(j) - center + 0.5) / filterScale
                let w = max(0, 1 - abs(x))
                total += w
                let i = j - Int(offset)
                guard i >= 0, i < src else { continue }
                if start < 0 { start = i }
                weights.append(Float(w))
            }
            let norm = total > 0 ? total : 1
            let onImage = weights.reduce(0, +)
            taps.append(
                Tap(start: max(start, 0), weights: weights.map { $0 / Float(norm) }, padding: Float(max(0, 1 - Double(onImage) / norm))))
        }
        return taps
    }

    /// Resizes `image` to `width`×`height`.
    static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        if width == image.width && height == image.height { return image }
        return resample(image, x: taps(from: image.width, to: width), y: taps(from: image.height, to: height), padding: (0, 0, 0))
    }

    /// Resamples with precomputed taps per axis; padding shares take the `padding` colour.
    static func resample(_ image: RGBImage, x xt: [Tap], y yt: [Tap], padding: (UInt8, UInt8, UInt8)) -> RGBImage {
        let width = xt.count
        let height = yt.count
        let sw = image.width
        let pad = [Float(padding.0), Float(padding.1), Float(padding.2)]
        // Horizontal pass into floats, then vertical pass into bytes.
        var mid = [Float](repeating: 0, count: width * image.height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { m in
                for y in 0..<image.height {
                    let row = y * sw * 3
                    for x in 0..<width {
                        let t = xt[x]
                        var r = pad[0] * t.padding
                        var g = pad[1] * t.padding
                        var b = pad[2] * t.padding
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
                    var v = pad[x % 3] * t.padding
                    for (k, w) in t.weights.enumerated() { v += m[(t.start + k) * width * 3 + x] * w }
                    out[y * width * 3 + x] = UInt8(rounding: v)
                }
            }
        }
        return try! RGBImage(width: width, height: height, pixels: out)
    }
}

extension RGBImage {
    /// A copy whose long side is at most `maxSide` pixels (filtered, so it does not alias), for thumbnails.
    public func shrunk(toFit maxSide: Int) -> RGBImage {
        let longSide = max(width, height)
        guard longSide > maxSide, maxSide > 0 else { return self }
        let scale = Double(maxSide) / Double(longSide)
        return Resampler.resize(
            self, width: max(1, Int((Double(width) * scale).rounded())),
            height: max(1, Int((Double(height) * scale).rounded())))
    }
}
