extension Duration {
    /// The duration in milliseconds, as every timing the lab reports is given.
    public var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
