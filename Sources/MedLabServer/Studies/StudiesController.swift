import Foundation
import Hummingbird
import MedImaging

/// `/api/studies`: upload a study once (files, a dropped folder's files, or a ZIP), then render,
/// measure and ask about its series by reference, from the bounded `StudyCache`.
struct StudiesController {
    let services: LabServices

    /// What `POST /api/studies` and `GET /api/studies/{study}` answer.
    struct Listing: Encodable {
        var studyID: String
        var series: [SeriesSummary]
        var skipped: [SkippedFile]
        /// Whether the same files were already cached (nothing was decoded).
        var cached: Bool

        enum CodingKeys: String, CodingKey {
            case series, skipped, cached
            case studyID = "study_id"
        }

        init(_ study: CachedStudy, cached: Bool) {
            studyID = study.id
            series = study.series.map(\.summary)
            skipped = study.skipped
            self.cached = cached
        }
    }

    /// What `…/stats` answers: modality values (HU for CT) inside the region.
    struct Statistics: Encodable {
        var mean: Double
        var std: Double
        var min: Double
        var max: Double
        var pixels: Int
        /// Pixels × pixel area; absent without Pixel Spacing.
        var areaMM2: Double?
        var unit: String

        enum CodingKeys: String, CodingKey {
            case mean, std, min, max, pixels, unit
            case areaMM2 = "area_mm2"
        }
    }

    /// What `…/line` answers.
    struct Line: Encodable {
        var lengthMM: Double?
        var lengthPixels: Double
        var profile: [Double]
        var unit: String

        enum CodingKeys: String, CodingKey {
            case profile, unit
            case lengthMM = "length_mm"
            case lengthPixels = "length_px"
        }
    }

    func addRoutes(to router: Router<LabRequestContext>) {
        router.post("/api/studies") { request, _ in try await upload(request) }
        router.get("/api/studies/{study}") { _, context in
            try JSONResponse.make(Listing(try study(context), cached: true))
        }
        router.get("/api/studies/{study}/series/{series}/render") { request, context in
            try await render(try series(context), query: StudyQuery(request))
        }
        router.get("/api/studies/{study}/series/{series}/stats") { request, context in
            try await statistics(try series(context), query: StudyQuery(request))
        }
        router.get("/api/studies/{study}/series/{series}/line") { request, context in
            try await line(try series(context), query: StudyQuery(request))
        }
    }

    func upload(_ request: Request) async throws -> Response {
        let configuration = services.configuration
        guard case .form(let form) = try await services.posted(request, limit: configuration.studyMaxUploadBytes) else {
            throw LabError.unsupportedMediaType("send the study as multipart/form-data with one `files` part per file (or a ZIP)")
        }
        let limits = StudyUpload.Limits(
            maxFiles: configuration.studyMaxFiles, maxBytes: configuration.studyMaxUploadBytes,
            maxFileBytes: min(configuration.studyMaxUploadBytes, 1 << 30))
        let ingest = StudyIngest(cache: services.studies, images: services.images)
        let (study, cached) = try await services.decoding.run {
            try ingest.study(from: try StudyUpload.collect(form, limits: limits))
        }
        return try JSONResponse.make(Listing(study, cached: cached))
    }

    /// The PNG of one slice with a window (and inversion), at square pixels as `/api/render` shows it.
    func render(_ series: StudySeries, query: StudyQuery) async throws -> Response {
        let (slice, frame, window, invert) = (try query.slice, try query.frame, try query.window, query.invert)
        let png = try await services.decoding.run {
            let image = try Self.imaging { try series.image(slice: slice, frame: frame) }
            if image.channels == 1, image.pixelAspect == 1 {
                // The common case, kept grey from window to PNG: the bytes `/api/render` writes, a third of the work.
                var grey = Renderer.renderGray(image, window: window)
                if invert { for index in grey.indices { grey[index] = 255 - grey[index] } }
                return try ImageEncoder.png(grey: grey, width: image.width, height: image.height)
            }
            var rendered = Renderer.render(image, window: window)
            if invert {
                for index in rendered.pixels.indices { rendered.pixels[index] = 255 - rendered.pixels[index] }
            }
            return try ImageEncoder.png(Letterbox.squarePixels(rendered, pixelAspect: image.pixelAspect))
        }
        // Ids derive from the content, so one URL always shows the same pixels.
        return Response(
            status: .ok, headers: [.contentType: "image/png", .cacheControl: "private, max-age=86400"],
            body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }

    func statistics(_ series: StudySeries, query: StudyQuery) async throws -> Response {
        let (slice, frame, roi, shape) = (try query.slice, try query.frame, try query.roi, try query.shape)
        let spacing = series.summary.pixelSpacingMM
        let unit = Self.unit(of: series)
        let statistics = try await services.decoding.run {
            let measured = try Self.imaging {
                try RegionStatistics.measure(try series.image(slice: slice, frame: frame), box: roi, shape: shape)
            }
            return Statistics(
                mean: measured.mean, std: measured.std, min: measured.min, max: measured.max, pixels: measured.pixels,
                areaMM2: spacing.map { Double(measured.pixels) * $0[0] * $0[1] }, unit: unit)
        }
        return try JSONResponse.make(statistics)
    }

    func line(_ series: StudySeries, query: StudyQuery) async throws -> Response {
        let (slice, frame, from, to) = (try query.slice, try query.frame, try query.point("from"), try query.point("to"))
        let spacing = series.summary.pixelSpacingMM
        let unit = Self.unit(of: series)
        let line = try await services.decoding.run {
            let profile = try Self.imaging {
                try LineProfile.measure(try series.image(slice: slice, frame: frame), from: from, to: to, spacing: spacing)
            }
            return Line(lengthMM: profile.lengthMM, lengthPixels: profile.lengthPixels, profile: profile.values, unit: unit)
        }
        return try JSONResponse.make(line)
    }

    private func study(_ context: LabRequestContext) throws -> CachedStudy {
        try services.studies.required(try context.parameters.require("study"))
    }

    private func series(_ context: LabRequestContext) throws -> StudySeries {
        try services.studies.series(study: try context.parameters.require("study"), series: try context.parameters.require("series"))
    }

    /// Modality values' unit: Hounsfield units for CT (after the Modality LUT), else the file's own scale.
    private static func unit(of series: StudySeries) -> String {
        series.summary.modality?.uppercased() == "CT" ? "HU" : "value"
    }

    /// Imaging failures (a slice that does not exist, a colour image) as 4xx.
    private static func imaging<T>(_ work: () throws -> T) throws -> T {
        do { return try work() } catch let error as ImagingError { throw LabError.from(error, field: "series") }
    }
}
