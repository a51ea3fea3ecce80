extension UInt8 {
    /// The nearest byte to `value`, clamped to 0...255; NaN (a float image's "no data" voxel) is 0.
    /// `Int(_:)` traps on NaN and infinities, which float NIfTI voxels and absurd rescales produce.
    init<Value: BinaryFloatingPoint>(rounding value: Value) {
        self = value.isNaN ? 0 : UInt8(clamping: Int(Swift.min(Swift.max(value, -1), 256).rounded()))
    }
}
