extension UInt8 {
    /// The nearest byte to `value`, clamped to 0...255; NaN (a float image's "no data" voxel) is 0.
    /// `Int(_:)` traps on NaN and infinities, which float NIfTI voxels and absurd rescales produce.
    /// Concrete, not generic over `BinaryFloatingPoint`: the generic conversion to an integer
    /// goes through `significandWidth` and `exponent` for every pixel (a 512² letterbox spent
    /// milliseconds in it), where a concrete one is a single instruction.
    init(rounding value: Double) {
        self = value.isNaN ? 0 : UInt8(Swift.min(Swift.max(value, 0), 255).rounded())
    }

    /// As for a `Double` (every `Float` is one exactly).
    init(rounding value: Float) { self.init(rounding: Double(value)) }
}
