/// A simple letterbox used when the caller hands the engine an image that is not yet the
/// projector's square: the imaging module does the careful version (area resampling,
/// recorded transform); this one keeps the engine usable on its own.
extension ModelImage {
    /// The image fitted into a black `side`×`side` square, aspect ratio kept, centred.
    func squared(to side: Int) -> ModelImage {
        guard side > 0, width != side || height != side else { return self }
        let scale = min(Double(side) / Double(width), Double(side) / Double(height))
        let newWidth = max(1, Int((Double(width) * scale).rounded()))
        let newHeight = max(1, Int((Double(height) * scale).rounded()))
        let left = (side - newWidth) / 2
        let top = (side - newHeight) / 2
        var out = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<newHeight {
            // Box filter over the source pixels this output pixel covers.
            let sy0 = Int(Double(y) / scale), sy1 = max(sy0 + 1, min(height, Int(Double(y + 1) / scale)))
            for x in 0..<newWidth {
                let sx0 = Int(Double(x) / scale), sx1 = max(sx0 + 1, min(width, Int(Double(x + 1) / scale)))
                var sum = (0, 0, 0)
                for sy in sy0..<min(sy1, height) {
                    for sx in sx0..<min(sx1, width) {
                        let i = (sy * width + sx) * 3
                        sum.0 += Int(rgb[i]); sum.1 += Int(rgb[i + 1]); sum.2 += Int(rgb[i + 2])
                    }
                }
                let count = max(1, (min(sy1, height) - sy0) * (min(sx1, width) - sx0))
                let o = ((top + y) * side + left + x) * 3
                out[o] = UInt8(sum.0 / count); out[o + 1] = UInt8(sum.1 / count); out[o + 2] = UInt8(sum.2 / count)
            }
        }
        return try! ModelImage(width: side, height: side, rgb: out)
    }
}
