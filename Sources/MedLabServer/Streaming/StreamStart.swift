import Foundation
import Hummingbird

/// Hands a generation from the route handler to the response body that streams it.
///
/// The handler waits for admission first, so a full queue, a timeout while waiting or a missing
/// model still answer with a real HTTP status (429/503/504) instead of a 200 stream that fails.
/// The box is `@unchecked Sendable` because Hummingbird's body closure must be `@Sendable`, while
/// the iterator has exactly one consumer at a time: the handler until it returns, then the body.
final class StreamStart: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<RunEvent, any Error>.AsyncIterator
    let cancel: @Sendable () -> Void
    private(set) var queueMs = 0.0

    private init(_ run: GenerationRunner.Run) {
        iterator = run.events.makeAsyncIterator()
        cancel = run.cancel
    }

    /// Waits until the request holds an engine slot; throws the queue's or engine's error otherwise.
    static func begin(_ run: GenerationRunner.Run, context: LabRequestContext) async throws -> StreamStart {
        let start = StreamStart(run)
        if let watcher = try? await context.channel.pipeline.handler(type: ClientDisconnectWatcher.self).get() {
            watcher.onDisconnect(run.cancel)
        }
        do {
            guard case .admitted(let ms) = try await start.iterator.next() else {
                throw LabError.internalError("generation ended before it started")
            }
            start.queueMs = ms
        } catch {
            run.cancel()
            throw error
        }
        return start
    }

    func next() async throws -> RunEvent? { try await iterator.next() }
}
