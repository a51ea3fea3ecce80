import MedImaging

extension ModelImage {
    /// The image as the projector needs it: letterboxed into its square (aspect kept, centred,
    /// area-averaged). Callers that letterbox themselves (to map boxes back) pass squares already.
    func fitted(to side: Int) throws -> ModelImage {
        guard width != side || height != side else { return self }
        let square = Letterbox.fit(try RGBImage(width: width, height: height, pixels: rgb), side: side).image
        return try ModelImage(width: square.width, height: square.height, rgb: square.pixels)
    }

    /// Wraps a rendered image.
    public init(_ image: RGBImage) throws {
        try self.init(width: image.width, height: image.height, rgb: image.pixels)
    }
}
