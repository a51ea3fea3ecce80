import Foundation

/// DICOM file to frames: parse, pick the codec for the transfer syntax, then the grey pipeline
/// up to modality values (Bits Stored masking, sign, Modality LUT) or the colour conversion.
enum DicomDecoder {
    static func decode(_ data: Data, options: DecodeOptions) throws -> DecodedStudy {
        let parsed = try DicomParser.parse(data, maxInflated: options.maxInflatedBytes)
        let ds = parsed.dataSet
        let syntax = parsed.transferSyntax
        let desc = try PixelDescription(ds)
        guard desc.pixelsPerFrame <= options.maxPixels else {
            throw ImagingError.tooLarge(width: desc.columns, height: desc.rows, frames: desc.frames, limit: options.maxPixels)
        }
        let wanted: [Int]
        if let f = options.frame {
            guard f >= 0, f < desc.frames else {
                throw ImagingError.invalidArgument("frame \(f + 1) does not exist (the file has \(desc.frames))")
            }
            wanted = [f]
        } else {
            guard desc.pixelsPerFrame * desc.samplesPerPixel * desc.frames <= options.maxTotalSamples else {
                throw ImagingError.tooLarge(width: desc.columns, height: desc.rows, frames: desc.frames, limit: options.maxTotalSamples)
            }
            wanted = Array(0..<desc.frames)
        }
        guard let pixelElement = ds[Tag.pixelData] else { throw ImagingError.notAnImage("DICOM file has no Pixel Data") }
        let encapsulated: [[UInt8]]?
        if let fragments = pixelElement.fragments {
            guard syntax.isEncapsulated || syntax.codec == .native else { throw ImagingError.malformed("pixel data encoding") }
            encapsulated = try Encapsulated.frames(fragments, count: desc.frames)
        } else {
            if syntax.isEncapsulated && !syntax.uid.isEmpty {
                throw ImagingError.malformed("\(syntax.name) file with native (not encapsulated) pixel data")
            }
            encapsulated = nil
        }
        let pipeline = GrayPipeline(ds, desc: desc)
        let enhanced = FunctionalGroups.isEnhanced(ds)
        let topSpacing = ds.doubles(Tag.pixelSpacing)
        var frames: [MedImage] = []
        for index in wanted {
            let raw: RawFrame
            if let encapsulated {
                raw = try decodeCompressed(encapsulated[index], syntax: syntax, desc: desc, maxPixels: options.maxPixels)
            } else {
                raw = try NativePixels.frame(
                    pixelElement.value, index: index, desc: desc, bigEndian: pixelElement.bigEndian, vr: pixelElement.vr)
            }
            let groups = enhanced ? FunctionalGroups.frame(index, of: ds) : FrameValues()
            var image = try pipeline.image(from: raw, groups: groups)
            // PixelSpacing is [row spacing, column spacing]; only a sane, non-square pair changes anything.
            let spacing = groups.pixelSpacing ?? topSpacing
            if spacing.count == 2, spacing[0] > 0, spacing[1] > 0, (0.05...20).contains(spacing[0] / spacing[1]) {
                image.pixelAspect = spacing[0] / spacing[1]
            }
            frames.append(image)
        }
        let metadata = ImageMetadata(dicom: ds, desc: desc, syntax: syntax, includeIdentifiers: options.includeIdentifiers)
        return DecodedStudy(format: .dicom, frames: frames, metadata: metadata, series: SeriesFacts(ds))
    }

    static func decodeCompressed(_ frame: [UInt8], syntax: TransferSyntax, desc: PixelDescription, maxPixels: Int) throws -> RawFrame {
        switch syntax.codec {
        case .rle: return try RLECodec.decode(frame, desc: desc)
        case .jpegLS: return try JPEGLSCodec.decode(frame, desc: desc)
        case .jpeg2000, .htj2k:
            do { return try JPEG2000Codec.decode(frame, desc: desc) } catch let e as ImagingError where syntax.codec == .htj2k {
                throw ImagingError.unsupportedTransferSyntax(uid: syntax.uid, name: "\(syntax.name) [\(e.description)]")
            }
        case .jpegLossless: return try LosslessJPEG.decode(frame, desc: desc)
        case .jpegBaseline, .jpegExtended:
            if JPEGMarkers.isLossless(frame) { return try LosslessJPEG.decode(frame, desc: desc) }
            // libjpeg-turbo in Debian 12 decodes 8-bit samples only; 12-bit goes to the Swift decoder.
            if let p = JPEGMarkers.precision(frame), p > 8 { return try ExtendedJPEG.decode(frame, desc: desc, maxPixels: maxPixels) }
            // Photometric RGB means the JPEG holds RGB itself (no colour transform), as pydicom reads it.
            let d = try JPEGCodec.decode(Data(frame), keepYCbCr: desc.photometric == "RGB", maxPixels: maxPixels)
            guard d.width == desc.columns, d.height == desc.rows, d.components == desc.samplesPerPixel else {
                throw ImagingError.malformed(
                    "JPEG frame is \(d.width)×\(d.height)×\(d.components), the header says \(desc.columns)×\(desc.rows)×\(desc.samplesPerPixel)"
                )
            }
            // libjpeg has already converted YCbCr to RGB where the file needed it.
            return RawFrame(
                values: d.pixels.map { desc.normalize(UInt32($0)) }, width: d.width, height: d.height,
                channels: d.components, colorModel: "RGB")
        case .native: throw ImagingError.malformed("encapsulated pixel data in \(syntax.name)")
        case .unsupported: throw ImagingError.unsupportedTransferSyntax(uid: syntax.uid, name: syntax.name)
        }
    }
}

/// Which Rescale Slope and Intercept values the pipeline uses, at the top level and in a frame's
/// functional groups alike; any other value counts as absent.
enum Rescale {
    /// A slope of 0 would blank the image, and beyond Float's range (the pipeline computes in
    /// Float) a rescale turns every sample into an infinity or NaN.
    static func slope(_ value: Double) -> Double? { value != 0 ? intercept(value) : nil }

    /// Finite and within Float's range.
    static func intercept(_ value: Double) -> Double? { value.isFinite && abs(value) < 1e30 ? value : nil }
}

/// The per-file part of the grey pipeline: Modality LUT, window and VOI LUT defaults, palette.
struct GrayPipeline {
    var desc: PixelDescription
    var slope: Double
    var intercept: Double
    var modalityLUT: LookupTable?
    var window: WindowLevel?
    var voiLUT: LookupTable?
    var palette: [LookupTable]?

    init(_ ds: DicomDataSet, desc: PixelDescription) {
        self.desc = desc
        slope = ds.double(Tag.rescaleSlope).flatMap(Rescale.slope) ?? 1
        intercept = ds.double(Tag.rescaleIntercept).flatMap(Rescale.intercept) ?? 0
        modalityLUT = ds.item(Tag.modalityLUTSequence).flatMap { Self.lut($0, desc: desc) }
        voiLUT = ds.item(Tag.voiLUTSequence).flatMap { Self.lut($0, desc: desc) }
        if let c = ds.doubles(Tag.windowCenter).first, let w = ds.doubles(Tag.windowWidth).first, w > 0 {
            let f = WindowLevel.Function(rawValue: (ds.string(Tag.voiLUTFunction) ?? "LINEAR").uppercased()) ?? .linear
            window = WindowLevel(center: c, width: w, function: f)
        }
        if desc.photometric == "PALETTE COLOR" {
            let tables = (0..<3).compactMap { k -> LookupTable? in
                var item = DicomDataSet()
                item.elements[Tag.lutDescriptor] = ds[Tag.paletteDescriptors[k]]
                item.elements[Tag.lutData] = ds[Tag.paletteData[k]]
                return Self.lut(item, desc: desc)
            }
            palette = tables.count == 3 ? tables : nil
        }
    }

    /// Reads an LUT Descriptor (entries, first mapped value, bits) and LUT Data (PS3.3 C.11.1.1).
    static func lut(_ item: DicomDataSet, desc: PixelDescription) -> LookupTable? {
        guard let d = item[Tag.lutDescriptor], let data = item[Tag.lutData], d.value.count >= 6 else { return nil }
        let v = Array(d.value)
        let (count, first, bits) = v.withUnsafeBufferPointer { b -> (Int, Int, Int) in
            let n = Int(Bytes.u16(b, 0, bigEndian: d.bigEndian))
            let raw = Bytes.u16(b, 2, bigEndian: d.bigEndian)
            let first = desc.signed ? Int(Int16(bitPattern: raw)) : Int(raw)
            return (n == 0 ? 65536 : n, first, Int(Bytes.u16(b, 4, bigEndian: d.bigEndian)))
        }
        let bytes = Array(data.value)
        let entries: [Float]
        if bytes.count == count && bits <= 8 {
            entries = bytes.map { Float($0) }
        } else {
            guard bytes.count >= 2 * count else { return nil }
            entries = bytes.withUnsafeBufferPointer { b in (0..<count).map { Float(Bytes.u16(b, 2 * $0, bigEndian: data.bigEndian)) } }
        }
        return LookupTable(firstMapped: first, bits: bits, data: entries)
    }

    /// Frame `raw` through the pipeline; `groups` (an enhanced object's functional groups for
    /// this frame) overrides the file's rescale, Modality LUT, window and VOI LUT.
    func image(from raw: RawFrame, groups: FrameValues = FrameValues()) throws -> MedImage {
        // 32-bit unsigned samples do not fit Int32: read them back as UInt32.
        let wide = !desc.signed && desc.bitsStored == 32
        if raw.channels == 3 {
            let max = Float(pow(2, Double(desc.bitsStored)) - 1)
            let values = wide ? raw.values.map { Float(UInt32(bitPattern: $0)) } : raw.values.map { Float($0) }
            let rgb = Color.toRGB(values, model: raw.colorModel, maxValue: max)
            return try MedImage(width: raw.width, height: raw.height, channels: 3, samples: rgb, photometric: .rgb, maxValue: max)
        }
        if let palette {
            var out = [Float](repeating: 0, count: raw.values.count * 3)
            for (i, v) in raw.values.enumerated() { for c in 0..<3 { out[3 * i + c] = palette[c].lookup(Float(v)) } }
            let max = Float((1 << min(palette[0].bits, 16)) - 1)
            return try MedImage(width: raw.width, height: raw.height, channels: 3, samples: out, photometric: .rgb, maxValue: max)
        }
        let samples: [Float]
        let modalityLUT = groups.hasRescale ? nil : self.modalityLUT
        if let modalityLUT {
            samples = raw.values.map { modalityLUT.lookup(Float($0)) }
        } else {
            let s = Float(groups.rescaleSlope ?? slope)
            let b = Float(groups.rescaleIntercept ?? intercept)
            let plain = wide ? raw.values.map { Float(UInt32(bitPattern: $0)) } : raw.values.map { Float($0) }
            samples = (s == 1 && b == 0) ? plain : plain.map { $0 * s + b }
        }
        let photometric: Photometric = desc.photometric == "MONOCHROME1" ? .monochrome1 : .monochrome2
        let bits = modalityLUT?.bits ?? desc.bitsStored
        // A frame's VOI LUT item replaces the file's whole VOI step: its own table, else its window alone.
        let frameLUT = groups.voiLUTItem.flatMap { Self.lut($0, desc: desc) }
        let voiLUT = frameLUT ?? (groups.window == nil ? self.voiLUT : nil)
        return try MedImage(
            width: raw.width, height: raw.height, channels: 1, samples: samples, photometric: photometric,
            maxValue: Float((1 << min(bits, 24)) - 1), defaultWindow: groups.window ?? window, voiLUT: voiLUT)
    }
}

/// Colour model conversions of PS3.3 C.7.6.3.1.2 (YBR_FULL, YBR_FULL_422 after expansion).
enum Color {
    static func toRGB(_ v: [Float], model: String, maxValue: Float) -> [Float] {
        guard model.hasPrefix("YBR_FULL") || model == "YBR_PARTIAL_422" else { return v }
        var out = [Float](repeating: 0, count: v.count)
        let half = (maxValue + 1) / 2
        for i in stride(from: 0, to: v.count - 2, by: 3) {
            let y = Float(v[i])
            let cb = Float(v[i + 1]) - half
            let cr = Float(v[i + 2]) - half
            out[i] = min(max((y + 1.402 * cr).rounded(), 0), maxValue)
            out[i + 1] = min(max((y - 0.344136 * cb - 0.714136 * cr).rounded(), 0), maxValue)
            out[i + 2] = min(max((y + 1.772 * cb).rounded(), 0), maxValue)
        }
        return out
    }
}

/// Just enough JPEG marker reading to route a frame to the right decoder.
enum JPEGMarkers {
    /// The SOF marker byte (0xC0…0xCF except C4/C8/CC), or nil.
    static func startOfFrame(_ b: [UInt8]) -> (marker: UInt8, precision: Int)? {
        var i = 2
        while i + 4 < b.count {
            guard b[i] == 0xFF else {
                i += 1
                continue
            }
            let m = b[i + 1]
            if m == 0xFF || m == 0x00 || (0xD0...0xD9).contains(m) || m == 0x01 {
                i += (m == 0xFF ? 1 : 2)
                continue
            }
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if (0xC0...0xCF).contains(m) && m != 0xC4 && m != 0xC8 && m != 0xCC {
                return i + 4 < b.count ? (m, Int(b[i + 4])) : nil
            }
            i += 2 + len
        }
        return nil
    }

    static func isLossless(_ b: [UInt8]) -> Bool { [0xC3, 0xC7, 0xCB, 0xCF].contains(startOfFrame(b)?.marker ?? 0) }
    static func precision(_ b: [UInt8]) -> Int? { startOfFrame(b)?.precision }
}
