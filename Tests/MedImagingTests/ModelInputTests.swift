import Foundation
import Testing

@testable import MedImaging

@Suite("Letterbox, region marks, windows and the volume recipe")
struct ModelInputTests {
    func gradient(_ w: Int, _ h: Int) -> RGBImage {
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let v = UInt8((x * 255) / max(1, w - 1))
                for c in 0..<3 { p[(y * w + x) * 3 + c] = v }
            }
        }
        return try! RGBImage(width: w, height: h, pixels: p)
    }

    @Test func wideImageIsCentredWithPaddingAboveAndBelow() {
        let (square, t) = Letterbox.fit(gradient(2000, 1000), side: 896)
        #expect(square.width == 896 && square.height == 896)
        #expect(t.contentWidth == 896 && t.contentHeight == 448)
        #expect(t.offsetX == 0 && t.offsetY == 224)
        #expect(square[448, 100] == (0, 0, 0))  // padding
        #expect(square[895, 448].0 > 250)  // right edge of the gradient is white
    }

    @Test func theTransformSaysWhereFitReallyPutTheImage() {
        // 65 whole padding rows above a 301×170 image in its 301 px square are 193.49 rows of 896:
        // the edge falls between two pixels, and the mapping must know it (it said 195 before).
        let white = try! RGBImage(width: 301, height: 170, pixels: [UInt8](repeating: 255, count: 301 * 170 * 3))
        let (square, t) = Letterbox.fit(white, side: 896)
        #expect(abs(t.originY - 65 * 896 / 301.0) < 1e-9 && t.originX == 0)
        #expect(t.offsetY == 193 && t.contentHeight == 506)
        #expect(square[448, 191] == (0, 0, 0) && square[448, 195] == (255, 255, 255))
        // The bilinear filter blends the rows around the edge, on both sides of 193.49.
        #expect((192...194).allSatisfy { square[448, $0].0 > 0 && square[448, $0].0 < 255 })
        let top = t.toSquare(x: 0, y: 0)
        #expect(abs(top.y - t.originY) < 1e-9)
        let back = t.toOriginal(x: 448, y: t.originY + 506 / 2)
        #expect(abs(back.x - 150.5) < 1e-9 && abs(back.y - 85) < 0.01)
    }

    @Test func boxesMapBackToOriginalPixels() throws {
        let t = LetterboxTransform(originalWidth: 2000, originalHeight: 1000, side: 896)
        // The content spans y 250…750 of 1000 in the padded square.
        let whole = try #require(t.originalBox(fromNormalized: [250, 0, 750, 1000]))
        #expect(abs(whole.x0) < 1e-9 && abs(whole.y0) < 1e-9 && abs(whole.x1 - 2000) < 1e-9 && abs(whole.y1 - 1000) < 1e-9)
        let box = try #require(t.originalBox(fromNormalized: [500, 250, 625, 500]))
        #expect(abs(box.x0 - 500) < 1e-9 && abs(box.x1 - 1000) < 1e-9 && abs(box.y0 - 500) < 1e-9 && abs(box.y1 - 750) < 1e-9)
        #expect(t.originalBox(fromNormalized: [0, 0, 100, 1000]) == nil)  // entirely on the padding
        let back = t.normalizedBox(fromOriginal: box)
        #expect(zip(back, [500, 250, 625, 500]).allSatisfy { abs($0 - $1) < 1e-9 })
    }

    @Test func areaDownsamplingAveragesInsteadOfPicking() {
        // A 1-pixel checkerboard shrunk 4× must become mid grey, not black or white (no aliasing).
        var p = [UInt8](repeating: 0, count: 64 * 64 * 3)
        for y in 0..<64 { for x in 0..<64 where (x + y) % 2 == 0 { for c in 0..<3 { p[(y * 64 + x) * 3 + c] = 255 } } }
        let (square, _) = Letterbox.fit(try! RGBImage(width: 64, height: 64, pixels: p), side: 16)
        #expect(square.pixels.allSatisfy { $0 >= 126 && $0 <= 129 })
    }

    @Test func ringIsDrawnAtTheMappedPlace() {
        var (square, t) = Letterbox.fit(gradient(1000, 500), side: 500)
        let before = square
        RegionMark.draw([RegionMark(.ring(centerX: 500, centerY: 250, radius: 100))], on: &square, transform: t)
        // Centre (500,250) maps to (250,250); radius 100 → 50 px in the square.
        #expect(square[300, 250] == (255, 0, 0))
        #expect(square[250, 250] == before[250, 250])  // inside untouched
        var rect = RGBImage(width: 10, height: 10)
        RegionMark.draw([RegionMark(.rectangle(PixelBox(x0: 2, y0: 2, x1: 7, y1: 7)), color: [0, 255, 0])], on: &rect)
        #expect(rect[2, 4] == (0, 255, 0) && rect[4, 4] == (0, 0, 0))
    }

    @Test func windowParsingAndPresets() throws {
        #expect(try WindowChoice(parsing: "lung") == .preset(.lung))
        #expect(WindowPreset.lung.window == WindowLevel(center: -600, width: 1500))
        #expect(WindowPreset.brain.window == WindowLevel(center: 40, width: 80))
        #expect(try WindowChoice(parsing: "-600,1500") == .explicit(WindowLevel(center: -600, width: 1500)))
        #expect(try WindowChoice(parsing: "minmax") == .minMax)
        #expect(throws: ImagingError.self) { try WindowChoice(parsing: "40,0") }
        #expect(throws: ImagingError.self) { try WindowChoice(parsing: "liver") }
    }

    @Test func minMaxAndPresetRendering() throws {
        let img = try MedImage(width: 3, height: 1, channels: 1, samples: [-1000, 0, 1000], photometric: .monochrome2)
        #expect(Renderer.renderGray(img, window: .minMax) == [0, 128, 255])
        // Brain window 40/80 saturates both ends.
        #expect(Renderer.renderGray(img, window: .preset(.brain)) == [0, 0, 255])
    }

    @Test func sliceSamplingFollowsTheRecipe() {
        #expect(VolumeRecipe.sampleIndices(count: 10) == Array(0..<10))
        let picks = VolumeRecipe.sampleIndices(count: 300)
        #expect(picks.count == 85)
        #expect(picks.first == Int((1.0 / 85 * 299).rounded()) && picks.last == 299)
        #expect(zip(picks, picks.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func ctPackingUsesTheThreeWindows() throws {
        let slice = try MedImage(width: 4, height: 1, channels: 1, samples: [-2000, 0, 40, 2000], photometric: .monochrome2)
        let rgb = try VolumeRecipe.packCT(slice)
        #expect(rgb[0, 0] == (0, 0, 0))
        #expect(rgb[1, 0] == (128, 98, 0))  // R: 1024/2048·255, G: 135/350·255 = 98.4, B: 0
        #expect(rgb[2, 0] == (132, 128, 128))
        #expect(rgb[3, 0] == (255, 255, 255))
    }

    @Test func seriesOrderUsesInstanceNumberThenPosition() {
        func study(_ n: Int?, _ z: Double) -> DecodedStudy {
            var m = ImageMetadata(format: .dicom, width: 1, height: 1)
            m.instanceNumber = n
            m.imagePosition = [0, 0, z]
            return DecodedStudy(format: .dicom, frames: [], metadata: m)
        }
        #expect(ModelInput.seriesOrder([study(3, 0), study(1, 5), study(2, 9)]) == [1, 2, 0])
        #expect(ModelInput.seriesOrder([study(nil, 9), study(nil, -3)]) == [1, 0])
    }

    /// A CT slice of constant HU with the given instance number and position.
    private func ctSlice(hu: Float, instance: Int?, z: Double, size: Int = 8, modality: String = "CT") throws -> DecodedStudy {
        var m = ImageMetadata(format: .dicom, width: size, height: size)
        m.modality = modality
        m.instanceNumber = instance
        m.imagePosition = [0, 0, z]
        let frame = try MedImage(
            width: size, height: size, channels: 1, samples: Array(repeating: hu, count: size * size),
            photometric: .monochrome2)
        return DecodedStudy(format: .dicom, frames: [frame], metadata: m)
    }

    @Test func volumeInputOrdersSamplesAndPacksASeries() throws {
        // 120 slices uploaded in reverse; slice k (1-based, by instance number) has HU = k - 1000.
        let studies = try (1...120).reversed().map { try ctSlice(hu: Float($0) - 1000, instance: $0, z: Double($0)) }
        let volume = try VolumeInput.make(from: studies, side: 16)
        #expect(volume.packing == .ct && volume.totalSlices == 120)
        #expect(volume.sliceNumbers == VolumeRecipe.sampleIndices(count: 120).map { $0 + 1 })
        #expect(volume.images.count == 85 && volume.images.allSatisfy { $0.width == 16 && $0.height == 16 })
        // The red channel (window −1024…1024) rises with the slice number: order followed instance numbers.
        let reds = volume.images.map { Int($0[8, 8].0) }
        #expect(zip(reds, reds.dropFirst()).allSatisfy { $0 <= $1 } && reds.first! < reds.last!)
        #expect(try volume.images[0][8, 8] == VolumeRecipe.packCT(studies[120 - volume.sliceNumbers[0]].frames[0])[0, 0])
    }

    @Test func volumeInputFromOneNiftiAndItsErrors() throws {
        let depth = 10
        let samples = (0..<depth).flatMap { z in Array(repeating: Float(z * 100), count: 4 * 4) }
        let nifti = DecodedStudy(
            format: .nifti, frames: [], volume: try Volume(width: 4, height: 4, depth: depth, samples: samples),
            metadata: ImageMetadata(format: .nifti, width: 4, height: 4))
        let grey = try VolumeInput.make(from: [nifti], window: .minMax, side: 8)
        #expect(grey.packing == .grey && grey.sliceNumbers == Array(1...10))
        #expect(try VolumeInput.make(from: [nifti], packing: .ct, maximum: 4, side: 8).images.count == 4)
        // Not CT by modality: grey unless asked.
        let mr = try (1...3).map { try ctSlice(hu: 0, instance: $0, z: 0, modality: "MR") }
        #expect(try VolumeInput.make(from: mr, side: 8).packing == .grey)
        #expect(throws: ImagingError.self) { try VolumeInput.make(from: [mr[0]], side: 8) }
        #expect(throws: ImagingError.self) { try VolumeInput.make(from: [mr[0], try ctSlice(hu: 0, instance: 9, z: 0, size: 4)], side: 8) }
        #expect(throws: ImagingError.self) { try VolumeInput.make(from: [nifti, mr[0]], side: 8) }
    }

    @Test func nonSquarePixelsKeepTheirPhysicalProportions() throws {
        // 100×50 pixels, each twice as tall as wide: physically square, so it fills the model's square.
        let transform = LetterboxTransform(originalWidth: 100, originalHeight: 50, side: 896, pixelAspect: 2)
        #expect(transform.contentWidth == 896 && transform.contentHeight == 896)
        let box = PixelBox(x0: 10, y0: 5, x1: 60, y1: 40)
        let back = try #require(transform.originalBox(fromNormalized: transform.normalizedBox(fromOriginal: box)))
        #expect(abs(back.x0 - 10) < 1e-6 && abs(back.y1 - 40) < 1e-6)
        let stretched = Letterbox.squarePixels(
            try RGBImage(width: 100, height: 50, pixels: [UInt8](repeating: 9, count: 100 * 50 * 3)),
            pixelAspect: 2)
        #expect(stretched.width == 100 && stretched.height == 100)

        // A CT volume of 0.5 mm pixels and 2 mm slices: coronal and sagittal pixels are 4× as tall as wide.
        let volume = try Volume(width: 8, height: 6, depth: 5, samples: [Float](repeating: 0, count: 8 * 6 * 5), spacing: [0.5, 0.5, 2])
        #expect(try volume.slice(.axial, index: 0).pixelAspect == 1)
        #expect(try volume.slice(.coronal, index: 0).pixelAspect == 4)
        #expect(try volume.slice(.sagittal, index: 0).pixelAspect == 4)
        let study = DecodedStudy(format: .nifti, frames: [], volume: volume, metadata: ImageMetadata(format: .nifti, width: 8, height: 6))
        let coronal = try volume.slice(.coronal, index: 2)
        let (square, fitted) = Letterbox.fit(Renderer.render(coronal), side: 64, pixelAspect: coronal.pixelAspect)
        #expect(square.width == 64 && fitted.contentHeight == 64 && fitted.contentWidth == 26)  // 8×0.5 mm wide, 5×2 mm tall
        #expect(try ModelInput.image(from: study, side: 64).transform.contentWidth == 64)  // axial: square pixels
    }
}
