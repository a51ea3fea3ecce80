import MedImaging

extension ModelImage {
    /// The image as the projector needs it: letterboxed into its square (aspect kept, centred,
    /// HF-style filter). Images from `AnalysisProcessor` are squares already, with their geometry kept.
    func fitted(to side: Int) -> ModelImage {
        guard width != side || height != side else { return self }
        return Letterbox.fit(self, side: side).image
    }
}
