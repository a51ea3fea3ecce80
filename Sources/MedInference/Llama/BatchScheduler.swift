internal import CLlama
import Foundation
import MedImaging
import Synchronization

/// Serves requests on one dedicated thread that owns the llama.cpp context.
///
/// Up to `slots` requests are active at once, each in its own KV-cache sequence. Every active
/// request contributes one token to a shared decode batch, so concurrent users share each pass
/// over the weights instead of waiting in line. A new request is prefilled alone when nothing
/// else runs; beside running streams its prompt rides along in their decode steps instead (an
/// `Admission`: text in runs, each image whole, since its tokens attend both ways), so the streams
/// keep flowing. With a projector loaded, a request is first prepared (tokenized, its images
/// encoded) on a thread of its own (`vision`) while this thread keeps decoding.
final class BatchScheduler: @unchecked Sendable {
    private let model: LlamaModel
    private let context: LlamaContext
    private let projector: VisionProjector?
    /// The token embedding table that lets an image share a step with streams; nil where prompts
    /// cannot ride along (a cache per sequence, another architecture, a table that cannot be read).
    private let tokenEmbeddings: TokenEmbeddings?
    private let slots: Int
    private let pending = Mutex(Queue())
    /// Prepares requests (tokenizing, encoding images) one at a time in arrival order, so the
    /// projector and its embedding cache are used from one thread; nil without a projector.
    private let vision: DispatchQueue?
    private let wake = DispatchSemaphore(value: 0)
    /// Touched only by the scheduler thread.
    private var active: [GenerationJob] = []
    /// Requests whose prompts are riding along in the decode steps.
    private var admitting: [Admission] = []
    /// Whether the last step that carried riders carried text: images and text take turns, so a
    /// stream of arrivals with text to feed cannot hold back an image.
    private var lastRidersWereText = false
    private var freeSlots: [Int32]

    init(model: LlamaModel, context: LlamaContext, projector: VisionProjector?, tokenEmbeddings: TokenEmbeddings?, slots: Int) {
        self.model = model
        self.context = context
        self.projector = projector
        self.tokenEmbeddings = tokenEmbeddings
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

    /// `MEDLAB_RIDE_ALONG=0` prefills every request alone, stopping the running streams, as before
    /// prompts rode along in decode steps (a diagnostic: the baseline of bench/cpu/admission.py).
    private static let ridingAlong = ProcessInfo.processInfo.environment["MEDLAB_RIDE_ALONG"] != "0"

    private func loop() {
        while true {
            if active.isEmpty, admitting.isEmpty, pending.withLock({ $0.jobs.isEmpty }) {
                waitingForWork.store(true, ordering: .releasing)
                idle.signal()
                wake.wait()
            }
            waitingForWork.store(false, ordering: .releasing)
            admit()
            step()
            activeCount.store(active.count + admitting.count, ordering: .relaxed)
        }
    }

    /// Moves waiting requests into free slots. With nothing running, the first is prefilled at
    /// once: there is no one to stall. While other requests are being decoded, each prompt rides
    /// along in the next decode steps where it can; one that cannot is prefilled alone, stopping
    /// every running stream (about 160 ms for MedGemma under load on an H200), one prefill a step so
    /// a burst stalls them one prefill at a time instead of all at once.
    private func admit() {
        while !freeSlots.isEmpty {
            // Decided anew for each request: once the first of a burst runs, the rest must not stall
            // it. Decided once a pass, a burst whose images the vision thread finished one prefill
            // apart (~100 ms each on an H100) was prefilled whole before any first token (1.9 s at 16
            // clients, bench/README.md).
            let streaming = (!active.isEmpty || !admitting.isEmpty) && !Self.admitAll
            guard let head = pending.withLock({ $0.jobs.first }) else {
                turns?.withdraw()
                return
            }
            // A question about an image whose first question is still riding waits for it, then
            // copies its `[system + image]` instead of computing the image again (batch's questions).
            if let prompt = head.prompt, admitting.contains(where: { $0.job.prompt.map(prompt.sharedPrefix) ?? 0 > 0 }) { return }
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
                if streaming, try beginRide(job) { continue }
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
        let load = currentLoad()
        let plan = Admission(job: job, prompt: prompt, skip: copyReusablePrefix(to: job, prompt: prompt), load: load, streams: active.count)
        // Each run whole, alone: text in pieces of the batch size (logits for each piece's last
        // token), images through mtmd, which also places two-dimensional positions.
        while let (run, piece) = try plan.take(room: Int.max) {
            let start = DispatchTime.now()
            switch run {
            case .text(let tokens, let position, _):
                _ = try context.decode(Array(tokens), at: position, sequence: job.slot)
            case .image(let chunk, let embeddings, _, let position):
                _ = try projector!.decode(embeddings, prompt, chunk: chunk, into: context, at: position, sequence: job.slot)
            }
            // llama_decode may return before a GPU finishes: when tracing, wait here so each piece's
            // time is its own and not the next one's (never otherwise: it would stall the pipeline).
            if Self.tracing { llama_synchronize(context.pointer) }
            plan.add(start.millisecondsElapsed, to: piece)
            if job.flag.isCancelled { throw CancellationError() }
        }
        job.position = plan.end
        tracePrefill(job, pieceMs: plan.pieceMs, load: load, streams: active.count, rodeAlong: false)
        if let trace = job.trace {
            trace.record(prompt: prompt)
            trace.recordLogits(context, index: -1)
        }
        // Sample now: the next prefill overwrites these logits.
        job.pendingToken = sample([job], outputs: [-1])[0]
        job.decodeStart = DispatchTime.now()
    }

    /// Starts feeding `job`'s prompt in the coming decode steps; false where it cannot ride along
    /// (then it is prefilled alone): an image that must be decoded another way, a prompt that does
    /// not end with text, a diagnostic that asks for the old way.
    private func beginRide(_ job: GenerationJob) throws -> Bool {
        guard Self.ridingAlong, turns == nil, job.trace == nil, context.unifiedCache else { return false }
        if job.prompt == nil { try prepare(job) }
        guard let prompt = job.prompt, case .text? = prompt.pieces.last else { return false }
        for case .image(let chunk, _) in prompt.pieces {
            guard tokenEmbeddings != nil, let projector, projector.feedsAsRows(prompt, chunk: chunk) else { return false }
        }
        llama_memory_seq_rm(llama_get_memory(context.pointer), job.slot, -1, -1)
        let load = currentLoad()
        let skip = copyReusablePrefix(to: job, prompt: prompt)
        admitting.append(Admission(job: job, prompt: prompt, skip: skip, load: load, streams: active.count))
        return true
    }

    /// The load a prefill meets, read before it starts (tracing only: the reads are cheap, not free).
    private func currentLoad() -> PrefillLoad? {
        guard Self.tracing else { return nil }
        return PrefillLoad(
            encodesBegun: encodesBegun.load(ordering: .relaxed), encoding: encodesRunning.load(ordering: .relaxed) > 0,
            kvCells: usedCells())
    }

    /// Copies into `job`'s sequence the positions another request's sequence already holds (the
    /// same system text and image) rather than prefilling them again; returns how many.
    private func copyReusablePrefix(to job: GenerationJob, prompt: TokenizedPrompt) -> Int {
        guard let (source, length) = reusablePrefix(for: prompt) else { return 0 }
        context.copyPrefix(from: source.slot, to: job.slot, length: length)
        job.cachedTokens = length
        return length
    }

    /// The trace line of a finished prefill; `rodeAlong`: its prompt was fed in decode steps, so
    /// its times are those of the steps that carried it.
    private func tracePrefill(
        _ job: GenerationJob, pieceMs: (before: Double, image: Double, after: Double), load: PrefillLoad?, streams: Int,
        rodeAlong: Bool
    ) {
        guard let load else { return }
        // `encoding=1`: the vision thread encoded an image at some point of this prefill, on the
        // same device (a suspect for prefills that are slower under load).
        let overlapped =
            load.encoding || encodesRunning.load(ordering: .relaxed) > 0
            || encodesBegun.load(ordering: .relaxed) != load.encodesBegun
        Self.trace(
            "prefill enc=\(job.encodeMs) prefill=\(job.prefillMs) cached=\(job.cachedTokens)"
                + " text_before=\(Self.format(pieceMs.before)) image=\(Self.format(pieceMs.image))"
                + " text_after=\(Self.format(pieceMs.after)) tokens=\(job.position - job.cachedTokens)"
                + " active=\(streams) kv_cells=\(load.kvCells) encoding=\(overlapped ? 1 : 0) ride=\(rodeAlong ? 1 : 0)")
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

    /// Emits each active request's pending token and decodes all of them in one batch, with the
    /// next run of an admitting prompt if there is one.
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
        let riders = nextRiders(room: context.batchTokens - batchJobs.count)
        guard !batchJobs.isEmpty || !riders.isEmpty else { return }
        do {
            let started = DispatchTime.now()
            try context.decodeStep(
                batchJobs.map { ($0.pendingToken, $0.position, $0.slot) }, runs: riders.map { ($0.run, $0.admission.job.slot) },
                table: tokenEmbeddings)
            let submitted = DispatchTime.now()
            // Traced, the wait for the GPU (its compute and the logits' copy) is timed apart from the host's picks.
            var waited = 0.0
            if Self.tracing {
                llama_synchronize(context.pointer)
                waited = submitted.millisecondsElapsed
            }
            // A rider whose prompt ends in this step has its first token from its last row, sampled with the streams'.
            var sampled = batchJobs
            var outputs = batchJobs.indices.map(Int32.init)
            var row = batchJobs.count
            for rider in riders {
                row += rider.run.count
                if rider.run.wantsLogits {
                    sampled.append(rider.admission.job)
                    outputs.append(Int32(row - 1))
                }
            }
            let tokens = sample(sampled, outputs: outputs)
            for (job, token) in zip(batchJobs, tokens) {
                job.position += 1
                job.pendingToken = token
            }
            // llama_decode returns before a GPU finishes; the first sample waits for it.
            Self.trace(
                "step n=\(batchJobs.count) decode=\(started.millisecondsElapsed - submitted.millisecondsElapsed) sample=\(submitted.millisecondsElapsed)"
                    + " ride=\(riders.reduce(0) { $0 + $1.run.count }) piece=\(riders.first?.piece.rawValue ?? "none") wait=\(waited)")
            let elapsed = started.millisecondsElapsed
            var first = batchJobs.count
            for rider in riders {
                rider.admission.add(elapsed, to: rider.piece)
                if rider.admission.isComplete {
                    finishRide(rider.admission, firstToken: tokens[first])
                    first += 1
                }
            }
        } catch {
            for job in batchJobs { drop(job, error) }
            for rider in riders {
                admitting.removeAll { $0 === rider.admission }
                drop(rider.admission.job, error)
            }
            active = active.filter { $0.slot >= 0 }
        }
    }

    /// The runs that ride in the next step, in at most `room` rows: every admission's next text
    /// run, or as many whole images as fit, text and images taking turns when both wait.
    /// Cancelled admissions end here.
    private func nextRiders(room: Int) -> [(admission: Admission, run: PromptRun, piece: PromptPiece)] {
        for admission in admitting where admission.job.flag.isCancelled {
            admitting.removeAll { $0 === admission }
            release(admission.job, reason: "cancelled")
        }
        let preferText = admitting.contains(where: \.nextIsText) && (!lastRidersWereText || admitting.allSatisfy(\.nextIsText))
        // The other kind when none of the preferred fits (an image beside more streams than room).
        for text in [preferText, !preferText] {
            var riders: [(admission: Admission, run: PromptRun, piece: PromptPiece)] = []
            var room = room
            for admission in admitting where admission.nextIsText == text {
                do {
                    guard let (run, piece) = try admission.take(room: room) else { continue }
                    riders.append((admission, run, piece))
                    room -= run.count
                } catch {
                    admitting.removeAll { $0 === admission }
                    drop(admission.job, error)
                }
            }
            if !riders.isEmpty {
                lastRidersWereText = text
                return riders
            }
        }
        return []
    }

    /// Fails a request and frees its slot.
    private func drop(_ job: GenerationJob, _ error: any Error) {
        llama_memory_seq_rm(llama_get_memory(context.pointer), job.slot, -1, -1)
        freeSlots.append(job.slot)
        job.slot = -1
        job.fail(error)
    }

    /// Makes a request whose whole prompt has ridden along an active stream.
    private func finishRide(_ admission: Admission, firstToken: llama_token) {
        let job = admission.job
        job.position = admission.end
        job.pendingToken = firstToken
        job.decodeStart = DispatchTime.now()
        tracePrefill(job, pieceMs: admission.pieceMs, load: admission.load, streams: admission.streams, rodeAlong: true)
        admitting.removeAll { $0 === admission }
        active.append(job)
    }

    /// Each job's next token from its output row of the last batch. The rows are fetched here, one
    /// after another (fetching waits for the GPU and touches the context); sampling itself reads
    /// only its row and its job's sampler, so the jobs sample at once, a thread each: a grammar
    /// that must look past the likeliest tokens costs milliseconds a sequence, and 16 constrained
    /// streams would otherwise pay them one after another in every step. Plain argmaxes (a whole
    /// 1 MB row each for Gemma's 262,144 logits) share threads only with `parallelArgmaxRows`.
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
        if jobs.count == 1 || (jobs.count < Self.parallelArgmaxRows && !jobs.contains(where: \.sampler.isCostly)) {
            for index in jobs.indices { work.draw(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: jobs.count) { work.draw($0) }
        }
        return Array(work.tokens)
    }

    /// Plain argmaxes run on several threads from this many rows on: 8 on a host of 8 cores or
    /// more, where it took the host's share of a 16-stream step from 0.8-1.4 ms to 0.26 ms (16
    /// cores beside an H100, bench/results/2026-12-05-h100-trace.txt); never on fewer, where 64
    /// rows took 2.4 ms either way, bound by memory (2 cores, bench/cpu/argmax_rows.py).
    /// `MEDLAB_PARALLEL_ARGMAX_ROWS=N` sets it, 0 turns it off.
    private static let parallelArgmaxRows: Int = {
        if let rows = ProcessInfo.processInfo.environment["MEDLAB_PARALLEL_ARGMAX_ROWS"].flatMap(Int.init) {
            return rows > 0 ? rows : Int.max
        }
        return ProcessInfo.processInfo.activeProcessorCount >= 8 ? 8 : Int.max
    }()

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
