import Foundation
import Synchronization

/// Writes analyses to the record off the request path: `submit` returns at once and a single
/// background task saves in order. A failed write is counted and reported, never thrown at a
/// user whose answer is ready. Model checksums, when they arrive, are filled into new entries.
public final class RecordWriter: Sendable {
    /// What a queued write carries.
    struct Job: Sendable {
        var analysis: RecordedAnalysis
        var modelPath: String?
        var projectorPath: String?
        /// Made on the writer's task: encoding PNGs is not the request's business.
        var images: @Sendable () -> KeptImages
    }

    private struct State {
        var pending = 0
        var errors = 0
        var lastError: String?
        var checksums: [String: String] = [:]
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The mutable part, in a box the background task shares.
    private final class Shared: Sendable {
        let mutex = Mutex(State())
        func withLock<T>(_ body: (inout State) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    public let record: LabRecord
    private let state = Shared()
    private let continuation: AsyncStream<Job>.Continuation
    private let task: Task<Void, Never>
    /// Called with each write failure's message (the server logs it and counts it in /metrics).
    private let onError: @Sendable (String) -> Void

    public init(record: LabRecord, onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.record = record
        self.onError = onError
        let (stream, continuation) = AsyncStream<Job>.makeStream()
        self.continuation = continuation
        let state = self.state
        task = Task.detached(priority: .utility) {
            for await job in stream {
                var job = job
                let known = state.withLock { $0.checksums }
                if job.analysis.model.sha256 == nil, let path = job.modelPath { job.analysis.model.sha256 = known[path] }
                if job.analysis.model.projectorSHA256 == nil, let path = job.projectorPath {
                    job.analysis.model.projectorSHA256 = known[path]
                }
                var failure: String?
                do {
                    let kept = job.images()
                    try record.save(
                        job.analysis, modelPath: job.modelPath, projectorPath: job.projectorPath, thumbnails: kept.thumbnails,
                        modelInputs: kept.modelInputs)
                } catch {
                    failure = "\(error)"
                }
                let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                    s.pending -= 1
                    if let failure {
                        s.errors += 1
                        s.lastError = failure
                    }
                    guard s.pending == 0 else { return [] }
                    defer { s.idleWaiters = [] }
                    return s.idleWaiters
                }
                if let failure { onError(failure) }
                for waiter in waiters { waiter.resume() }
            }
        }
    }

    /// Queues `analysis` for writing and returns at once.
    public func submit(
        _ analysis: RecordedAnalysis, modelPath: String? = nil, projectorPath: String? = nil,
        thumbnails: @escaping @Sendable () -> [String: Data] = { [:] }
    ) {
        submit(analysis, modelPath: modelPath, projectorPath: projectorPath, images: { KeptImages(thumbnails: thumbnails()) })
    }

    /// Queues `analysis` with the images kept beside it (thumbnails, model-input copies), made on the writer's task.
    public func submit(
        _ analysis: RecordedAnalysis, modelPath: String? = nil, projectorPath: String? = nil,
        images: @escaping @Sendable () -> KeptImages
    ) {
        state.withLock { $0.pending += 1 }
        continuation.yield(Job(analysis: analysis, modelPath: modelPath, projectorPath: projectorPath, images: images))
    }

    /// Writes `analysis` now, on the caller's task (a batch writes its record row before its JSONL
    /// line, so a row in the JSONL is always in the record). Failures are counted, then thrown.
    public func saveNow(
        _ analysis: RecordedAnalysis, modelPath: String? = nil, projectorPath: String? = nil,
        thumbnails: [String: Data] = [:], modelInputs: [Int: ModelInputCopy] = [:]
    ) throws {
        var analysis = analysis
        let known = state.withLock { $0.checksums }
        if analysis.model.sha256 == nil, let modelPath { analysis.model.sha256 = known[modelPath] }
        if analysis.model.projectorSHA256 == nil, let projectorPath { analysis.model.projectorSHA256 = known[projectorPath] }
        do {
            try record.save(analysis, modelPath: modelPath, projectorPath: projectorPath, thumbnails: thumbnails, modelInputs: modelInputs)
        } catch {
            state.withLock {
                $0.errors += 1
                $0.lastError = "\(error)"
            }
            onError("\(error)")
            throw error
        }
    }

    /// Returns once every write submitted so far has been attempted (reads after it see them).
    public func settled() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.pending == 0 { return true }
                s.idleWaiters.append(waiter)
                return false
            }
            if ready { waiter.resume() }
        }
    }

    /// A file's checksum is known: later entries carry it, earlier ones are updated.
    public func checksumKnown(path: String, sha256: String) {
        state.withLock { $0.checksums[path] = sha256 }
        do { try record.fillChecksum(path: path, sha256: sha256) } catch {
            state.withLock {
                $0.errors += 1
                $0.lastError = "\(error)"
            }
            onError("\(error)")
        }
    }

    /// Failed writes so far, and the last failure's message.
    public var health: (errors: Int, lastError: String?) { state.withLock { ($0.errors, $0.lastError) } }

    /// Writes what is queued, then stops (folding the write-ahead log in when no one else writes).
    public func close() async {
        continuation.finish()
        await task.value
        try? record.checkpoint()
    }
}

/// What the record keeps of an analysis's images besides their hashes.
public struct KeptImages: Sendable {
    /// Small PNGs by the hash of each image as uploaded.
    public var thumbnails: [String: Data]
    /// Copies of the squares the model was given, by the image's position in the entry.
    public var modelInputs: [Int: ModelInputCopy]

    public init(thumbnails: [String: Data] = [:], modelInputs: [Int: ModelInputCopy] = [:]) {
        self.thumbnails = thumbnails
        self.modelInputs = modelInputs
    }
}
