internal import CLlama
import Foundation
import MedImaging
import Synchronization

/// Serves requests on one dedicated thread that owns the llama.cpp context.
///
/// Up to `slots` requests are active at once, each in its own KV-cache sequence. A new request
/// is prefilled alone (its image needs non-causal attention inside one micro-batch); then every
/// active request contributes one token to a shared decode batch, so concurrent users share
/// each pass over the weights instead of waiting in line. With a projector loaded, a request is
/// first prepared (tokenized, its images encoded) on a thread of its own (`vision`) while this
/// thread keeps decoding: an encode no longer stalls every running stream.
final class BatchScheduler: @unchecked Sendable {
    private let model: LlamaModel
    private let context: LlamaContext
    private let projector: VisionProjector?
    private let slots: Int
    private let pending = Mutex(Queue())
    /// Prepares requests (tokenizing, encoding images) one at a time in arrival order, so the
    /// projector and its embedding cache are used from one thread; nil without a projector.
    private let vision: DispatchQueue?
    private let wake = DispatchSemaphore(value: 0)
    /// Touched only by the scheduler thread.
    private var active: [GenerationJob] = []
    private var freeSlots: [Int32]

    init(model: LlamaModel, context: LlamaContext, projector: VisionProjector?, slots: Int) {
        self.model = model
        self.context = context
        self.projector = projector
        self.slots = slots
        self.freeSlots = (0..<Int32(slots)).reversed()
        self.vision = projector.map { _ in DispatchQueue(label: "medlab.vision", qos: .userInitiated) }
        self.turns = Self.exclusivePrefill && projector != nil && !Self.encodeInline ? DeviceTurns() : nil
        // The thread holds the scheduler for the life of the process, as a server's engine lives.
        let thread = Thread { self.loop() }
        thread.name = "medlab.llama"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Requests waiting for a slot, and requests being generated.
    var load: (waiting: Int, active: Int) {
        (pending.withLock { $0.jobs.count + $0.preparing }, activeCount.load(ordering: .relaxed))
    }
    private let activeCount = Atomic<Int>(0)
    /// Image encodes started on the vision thread so far, and how many are running now: the trace
    /// says whether a prefill shared the device with an encode.
    private let encodesBegun = Atomic<Int>(0)
    private let encodesRunning = Atomic<Int>(0)
    /// True only while the thread waits for work: nothing is being prefilled or decoded.
    private let waitingForWork = Atomic<Bool>(true)

    /// Signalled each time the scheduler runs out of work.
    let idle = ConditionSignal()

    /// Whether no request is waiting, being prefilled or being decoded.
    var isIdle: Bool { waitingForWork.load(ordering: .acquiring) && pending.withLock { $0.jobs.isEmpty && $0.preparing == 0 } }

    func submit(_ job: GenerationJob) {
        // With a projector every job goes this way, text-only ones too (they only tokenize there):
        // mtmd's tokenizer and encoder then run on one thread, and arrival order is kept.
        guard let vision, !Self.encodeInline else {
            pending.withLock { $0.jobs.append(job) }
            wake.signal()
            return
        }
        pending.withLock { $0.preparing += 1 }
        vision.async {
            var ready = false
            if job.flag.isCancelled {
                job.finish(reason: "cancelled")
            } else {
                do {
                    try self.prepare(job)
                    ready = true
                } catch is CancellationError {
                    job.finish(reason: "cancelled")
                } catch {
                    job.fail(error)
                }
            }
            // One step under the lock: `isIdle` never sees the job in neither place.
            self.pending.withLock {
                $0.preparing -= 1
                if ready { $0.jobs.append(job) }
            }
            // Also when the job failed: the loop then finds nothing and says it is idle.
            self.wake.signal()
        }
    }

    /// Jobs waiting for a slot, and how many jobs are still being prepared.
    private struct Queue {
        var jobs: [GenerationJob] = []
        var preparing = 0
    }

    /// `MEDLAB_ENCODE_INLINE=1` prepares every job on the scheduler thread, as before the vision
    /// thread existed (a diagnostic: the benchmark can compare both ways).
    private static let encodeInline = ProcessInfo.processInfo.environment["MEDLAB_ENCODE_INLINE"] == "1"

    /// `MEDLAB_ADMIT=all` prefills every waiting request before the next decode step, as before
    /// admission was interleaved (a diagnostic: the baseline of bench/cpu/admission.py).
    private static let admitAll = ProcessInfo.processInfo.environment["MEDLAB_ADMIT"] == "all"

    /// `MEDLAB_PREFIX_SHARING=0` prefills every prompt whole (a diagnostic: the baseline of
    /// bench/cpu/prefix.sh).
    private static let sharingPrefixes = ProcessInfo.processInfo.environment["MEDLAB_PREFIX_SHARING"] != "0"

    /// `MEDLAB_PREFILL_EXCLUSIVE=1`: a prefill and the vision thread's image encode take turns on
    /// the device instead of running at once (a diagnostic, off by default until measured on a
    /// GPU). Sharing it, a prefill meets the encoder's kernels (on the CPU here it took x1.6 as
    /// long, bench/cpu/prefill_load.py --burst), and every running stream waits for the prefill.
    private static let exclusivePrefill = ProcessInfo.processInfo.environment["MEDLAB_PREFILL_EXCLUSIVE"] == "1"

    /// Turns between prefills (this thread) and encodes (the vision thread) with
    /// `MEDLAB_PREFILL_EXCLUSIVE=1`; nil otherwise, and when jobs are encoded on this thread.
    private let turns: DeviceTurns?

    private func loop() {
        while true {
            if active.isEmpty, pending.withLock({ $0.jobs.isEmpty }) {
                waitingForWork.store(true, ordering: .releasing)
                idle.signal()
                wake.wait()
            }
            waitingForWork.store(false, ordering: .releasing)
            admit()
            step()
            activeCount.store(active.count, ordering: .relaxed)
        }
    }

    /// Moves waiting requests into free slots and prefills them. While other requests are being
    /// decoded, one per step: a prefill stops every running stream (about 160 ms for MedGemma
    /// under load on an H200), so a burst admitted between decode steps stalls them one prefill
    /// at a time instead of all at once. With nothing running there is no one to stall.
    private func admit() {
        let streaming = !active.isEmpty && !Self.admitAll
        while !freeSlots.isEmpty {
            guard pending.withLock({ !$0.jobs.isEmpty }) else {
                turns?.withdraw()
                return
            }
            // Only this thread removes jobs, so the one just seen is still first. While streams run,
            // a prefill that would share the device with an encode waits for the next step instead.
            if let turns, !turns.beginPrefill(wait: active.isEmpty) { return }
            defer { turns?.endPrefill() }
            guard let job = pending.withLock({ $0.jobs.isEmpty ? nil : $0.jobs.removeFirst() }) else { return }
            if job.flag.isCancelled {
                job.finish(reason: "cancelled")
                continue
            }
            job.slot = freeSlots.removeLast()
            do {
                try prefill(job)
                active.append(job)
                if streaming { return }
            } catch is CancellationError {
                release(job, reason: "cancelled")
            } catch {
                llama_memory_seq_rm(llama_get_memory(context.pointer), job.slot, -1, -1)
                freeSlots.append(job.slot)
                job.fail(error)
            }
        }
    }

    /// Everything before the KV cache: checks, the sampler, the prompt's tokens, and each image's
    /// embeddings. Touches no llama.cpp context, so the vision thread may run it.
    private func prepare(_ job: GenerationJob) throws {
        let request = job.request
        guard request.maxNewTokens > 0 else { throw InferenceError.badRequest("max_new_tokens must be at least 1") }
        guard !request.turns.isEmpty else { throw InferenceError.badRequest("the request has no question") }
        let images = request.images
        if !images.isEmpty, projector == nil { throw InferenceError.visionUnavailable }
        job.sampler = try Sampler(request.sampling, grammar: request.constraint.map(JSONGrammar.grammar(for:)), model: model)
        let prompt = try tokenize(request, images: images)
        job.prompt = prompt
        let needed = prompt.textTokens + prompt.imageTokens + 1
        guard needed <= context.sequenceTokens else {
            throw InferenceError.contextOverflow(needed: needed, available: context.sequenceTokens)
        }
        for case .image(let chunk, _) in prompt.pieces where job.embeddings[chunk] == nil {
            if job.flag.isCancelled { throw CancellationError() }
            turns?.beginEncode()
            defer { turns?.endEncode() }
            encodesBegun.add(1, ordering: .relaxed)
            encodesRunning.add(1, ordering: .relaxed)
            defer { encodesRunning.subtract(1, ordering: .relaxed) }
            let embeddings = try projector!.embeddings(prompt, chunk: chunk, width: model.inputEmbeddingWidth)
            job.embeddings[chunk] = embeddings.values
            job.encodeMs += embeddings.encodeMs
        }
    }

    private func prefill(_ job: GenerationJob) throws {
        if job.prompt == nil { try prepare(job) }
        guard let prompt = job.prompt else { throw InferenceError.generationFailed("the request was not prepared") }
        llama_memory_seq_rm(llama_get_memory(context.pointer), job.slot, -1, -1)
        context.setAbort(job.flag)
        defer { context.setAbort(nil) }
        // The load this prefill meets, read before it starts (tracing only: the reads are cheap, not free).
        let load =
            Self.tracing
            ? PrefillLoad(
                encodesBegun: encodesBegun.load(ordering: .relaxed),
                encoding: encodesRunning.load(ordering: .relaxed) > 0,
                kvCells: usedCells()) : nil
        // Positions another request's sequence already holds (the same system text and image):
        // copied, not prefilled again.
        let reused = reusablePrefix(for: prompt)
        if let (source, length) = reused {
            context.copyPrefix(from: source.slot, to: job.slot, length: length)
            job.cachedTokens = length
        }
        let skip = reused?.length ?? 0
        var position = 0
        // Milliseconds of the text before the first image, of the images, and of the text after.
        var pieceMs = (before: 0.0, image: 0.0, after: 0.0)
        var sawImage = false
        for piece in prompt.pieces {
            let start = DispatchTime.now()
            switch piece {
            case .text(let tokens):
                let covered = min(max(skip - position, 0), tokens.count)
                guard covered < tokens.count else {
                    position += covered
                    continue
                }
                position = try context.decode(Array(tokens[covered...]), at: position + covered, sequence: job.slot)
            case .image(let chunk, let count):
                sawImage = true
                guard let embeddings = job.embeddings.removeValue(forKey: chunk) else {
                    throw InferenceError.generationFailed("image \(chunk) was not encoded")
                }
                guard position >= skip else {
                    position += count
                    continue
                }
                position = try projector!.decode(embeddings, prompt, chunk: chunk, into: context, at: position, sequence: job.slot)
            }
            // llama_decode may return before a GPU finishes: when tracing, wait here so each piece's
            // time is its own and not the next one's (never otherwise: it would stall the pipeline).
            if Self.tracing { llama_synchronize(context.pointer) }
            let elapsed = start.millisecondsElapsed
            job.prefillMs += elapsed
            switch piece {
            case .image: pieceMs.image += elapsed
            case .text where sawImage: pieceMs.after += elapsed
            case .text: pieceMs.before += elapsed
            }
            if job.flag.isCancelled { throw CancellationError() }
        }
        job.position = position
        if let load {
            // `encoding=1`: the vision thread encoded an image at some point of this prefill, on the
            // same device (a suspect for prefills that are slower under load).
            let overlapped =
                load.encoding || encodesRunning.load(ordering: .relaxed) > 0
                || encodesBegun.load(ordering: .relaxed) != load.encodesBegun
            Self.trace(
                "prefill enc=\(job.encodeMs) prefill=\(job.prefillMs) cached=\(job.cachedTokens)"
                    + " text_before=\(Self.format(pieceMs.before)) image=\(Self.format(pieceMs.image))"
                    + " text_after=\(Self.format(pieceMs.after)) tokens=\(position - job.cachedTokens)"
                    + " active=\(active.count) kv_cells=\(load.kvCells) encoding=\(overlapped ? 1 : 0)")
        }
        if let trace = job.trace {
            trace.record(prompt: prompt)
            trace.recordLogits(context, index: -1)
        }
        // Sample now: the next prefill overwrites these logits.
        job.pendingToken = sample([job], outputs: [-1])[0]
        job.decodeStart = DispatchTime.now()
    }

    /// What a prefill met when it started: the vision thread's encode count and whether it was
    /// encoding, and the KV cells the running sequences hold.
    private struct PrefillLoad {
        let encodesBegun: Int
        let encoding: Bool
        let kvCells: Int
    }

    /// Cells the active sequences hold, from each one's first and last position (one call each,
    /// no walk over the cache). A prefix that two sequences share in one buffer counts twice.
    private func usedCells() -> Int {
        let memory = llama_get_memory(context.pointer)
        return active.reduce(0) { total, job in
            guard job.slot >= 0 else { return total }
            let last = llama_memory_seq_pos_max(memory, job.slot)
            guard last >= 0 else { return total }
            return total + Int(last - llama_memory_seq_pos_min(memory, job.slot)) + 1
        }
    }

    /// Milliseconds with two decimals, enough for a trace line.
    private static func format(_ milliseconds: Double) -> String { String(format: "%.2f", milliseconds) }

    /// The active request whose sequence holds the longest prefix of `prompt` that covers an image,
    /// and that prefix's length, leaving at least the prompt's last token to decode (its logits
    /// choose the first answer token). A source past the sliding window no longer holds its first
    /// positions in the window's cache, so it does not count.
    private func reusablePrefix(for prompt: TokenizedPrompt) -> (source: GenerationJob, length: Int)? {
        guard Self.sharingPrefixes, prompt.imageTokens > 0, case .text? = prompt.pieces.last else { return nil }
        let total = prompt.textTokens + prompt.imageTokens
        let window = model.slidingWindow
        var best: (source: GenerationJob, length: Int)?
        for source in active where source.slot >= 0 && (window == 0 || source.position < window) {
            guard let held = source.prompt else { continue }
            let length = min(prompt.sharedPrefix(with: held), total - 1)
            if length > (best?.length ?? 0) { best = (source, length) }
        }
        return best
    }

    /// Emits each active request's pending token and decodes all of them in one batch.
    private func step() {
        var batchJobs: [GenerationJob] = []
        for job in active {
            if job.flag.isCancelled {
                release(job, reason: "cancelled")
                continue
            }
            let token = job.pendingToken
            job.trace?.record(token: token)
            if model.isEndOfGeneration(token), !job.request.ignoreEndOfSequence {
                release(job, reason: "stop")
                continue
            }
            if job.accept(bytes: model.bytes(of: token)) {
                release(job, reason: "stop")
                continue
            }
            if job.produced >= job.request.maxNewTokens || job.position >= context.sequenceTokens {
                release(job, reason: "length")
                continue
            }
            batchJobs.append(job)
        }
        active = active.filter { $0.slot >= 0 }
        guard !batchJobs.isEmpty else { return }
        do {
            let started = DispatchTime.now()
            try context.decodeStep(batchJobs.map { ($0.pendingToken, $0.position, $0.slot) })
            let submitted = DispatchTime.now()
            let tokens = sample(batchJobs, outputs: batchJobs.indices.map(Int32.init))
            for (job, token) in zip(batchJobs, tokens) {
                job.position += 1
                job.pendingToken = token
            }
            // llama_decode returns before a GPU finishes; the first sample waits for it.
            Self.trace(
                "step n=\(batchJobs.count) decode=\(started.millisecondsElapsed - submitted.millisecondsElapsed) sample=\(submitted.millisecondsElapsed)"
            )
        } catch {
            for job in batchJobs {
                llama_memory_seq_rm(llama_get_memory(context.pointer), job.slot, -1, -1)
                freeSlots.append(job.slot)
                job.slot = -1
                job.fail(error)
            }
            active = active.filter { $0.slot >= 0 }
        }
    }

    /// Each job's next token from its output row of the last batch. The rows are fetched here, one
    /// after another (fetching waits for the GPU and touches the context); sampling itself reads
    /// only its row and its job's sampler, so the jobs sample at once, a thread each: a grammar
    /// that must look past the likeliest tokens costs milliseconds a sequence, and 16 constrained
    /// streams would otherwise pay them one after another in every step.
    private func sample(_ jobs: [GenerationJob], outputs: [Int32]) -> [llama_token] {
        let count = model.vocabularySize
        let rows = outputs.map { llama_get_logits_ith(context.pointer, $0) }
        if rows.contains(where: { $0 == nil }) {
            return jobs.indices.map { index in
                rows[index].map { jobs[index].sampler.sample($0, count: count) }
                    ?? jobs[index].sampler.sample(context, index: outputs[index])
            }
        }
        let work = SamplingWork(jobs: jobs, rows: rows.map { $0! }, count: count)
        defer { work.tokens.deallocate() }
        if jobs.count == 1 || !jobs.contains(where: \.sampler.isCostly) {
            for index in jobs.indices { work.draw(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: jobs.count) { work.draw($0) }
        }
        return Array(work.tokens)
    }

    /// `MEDLAB_TRACE=1` prints each decode step's batch size and times, and each prefill's pieces, to
    /// stderr (bench/gpu/trace.sh and bench/cpu/prefill_load.py read them).
    private static let tracing = ProcessInfo.processInfo.environment["MEDLAB_TRACE"] == "1"

    static func trace(_ line: @autoclosure () -> String) {
        guard tracing else { return }
        FileHandle.standardError.write(Data("TRACE \(Date().timeIntervalSince1970) \(line())\n".utf8))
    }

    /// Finishes a request and frees its slot.
    private func release(_ job: GenerationJob, reason: String) {
        llama_memory_seq_rm(llama_get_memory(context.pointer), job.slot, -1, -1)
        freeSlots.append(job.slot)
        job.slot = -1
        Self.trace(
            "done reason=\(reason) tokens=\(job.produced) grammar_full_passes=\(job.sampler.fullPasses) grammar_cached=\(job.sampler.cachedPasses)"
        )
        job.finish(reason: reason)
    }

    private func tokenize(_ request: GenerationRequest, images: [ModelImage]) throws -> TokenizedPrompt {
        let segments = PromptBuilder.segments(for: request)
        if let projector {
            let fitted = images.map { $0.fitted(to: projector.imageSize) }
            PromptLog.record(segments, images: fitted)
            return try projector.tokenize(segments, images: fitted, addBOS: true)
        }
        PromptLog.record(segments, images: [])
        var tokens: [llama_token] = []
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .template(let text): tokens += model.tokenize(text, addBOS: index == 0, special: true)
            case .user(let text): tokens += model.tokenize(text, addBOS: index == 0, special: false)
            case .image: throw InferenceError.visionUnavailable
            }
        }
        return TokenizedPrompt(pieces: [.text(tokens)], chunks: nil)
    }
}

/// One step's sampling, shared by the threads that do it: thread `i` reads row `i` and job `i`'s
/// sampler and writes token `i` only, so no two threads touch the same memory.
private struct SamplingWork: @unchecked Sendable {
    let jobs: [GenerationJob]
    let rows: [UnsafeMutablePointer<Float>]
    let count: Int
    let tokens: UnsafeMutableBufferPointer<llama_token>

    init(jobs: [GenerationJob], rows: [UnsafeMutablePointer<Float>], count: Int) {
        self.jobs = jobs
        self.rows = rows
        self.count = count
        tokens = .allocate(capacity: jobs.count)
    }

    func draw(_ index: Int) { tokens[index] = jobs[index].sampler.sample(rows[index], count: count) }
}

/// Lets a prefill and an image encode take turns on the device. The encoder waits while a
/// prefill runs or asks to run; a prefill that finds the encoder busy either waits (nothing is
/// streaming) or gives up for this step and asks for the next turn, so the encoder cannot keep
/// the device through a whole burst of images while new requests wait.
private final class DeviceTurns: @unchecked Sendable {
    private let condition = NSCondition()
    private var encoding = false
    private var prefilling = false
    private var prefillWaiting = false

    func beginEncode() {
        condition.lock()
        while prefilling || prefillWaiting { condition.wait() }
        encoding = true
        condition.unlock()
    }

    func endEncode() {
        condition.lock()
        encoding = false
        condition.broadcast()
        condition.unlock()
    }

    /// Whether the prefill may start now; with `wait` false and the encoder busy, false at once.
    func beginPrefill(wait: Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if encoding && !wait {
            prefillWaiting = true
            return false
        }
        while encoding { condition.wait() }
        prefilling = true
        prefillWaiting = false
        return true
    }

    func endPrefill() {
        condition.lock()
        prefilling = false
        condition.broadcast()
        condition.unlock()
    }

    /// Drops a request for a turn that no job needs any more (it was cancelled meanwhile).
    func withdraw() {
        condition.lock()
        if prefillWaiting {
            prefillWaiting = false
            condition.broadcast()
        }
        condition.unlock()
    }
}
