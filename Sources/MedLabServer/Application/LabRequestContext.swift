import Hummingbird
import Logging
import MedInference
import NIOCore
import Synchronization

/// The per-request context: Hummingbird's core storage plus the connection, so a route can
/// learn that its client has gone and stop the model.
public struct LabRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Routes collect bodies themselves against `LabServerConfiguration.maxBodyBytes`.
    public var maxUploadSize: Int { 1 << 30 }

    /// Runs `body`, cancelling it when the client closes its side of the connection first.
    ///
    /// Hummingbird keeps a half-closed connection open and does not cancel handlers, so a
    /// handler that waits minutes for the model would otherwise keep the engine busy for nobody.
    func cancellingOnDisconnect<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withExternalCancellation(register: await disconnectRegistration(), body)
    }

    /// A function that calls its argument once the client disconnects: what a response body
    /// hands to the work it streams, since the handler (and its cancellation) is over by then.
    func disconnectRegistration() async -> @Sendable (@escaping @Sendable () -> Void) -> Void {
        let watcher = try? await channel.pipeline.handler(type: ClientDisconnectWatcher.self).get()
        return { cancel in watcher?.onDisconnect(cancel) }
    }
}

/// Sits in each connection's pipeline and reports when the client closes its side.
final class ClientDisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    private let state = Mutex<(closed: Bool, callbacks: [@Sendable () -> Void])>((false, []))

    /// Calls `callback` once the client disconnects (at once if it already has).
    func onDisconnect(_ callback: @escaping @Sendable () -> Void) {
        let closed = state.withLock { state in
            if !state.closed { state.callbacks.append(callback) }
            return state.closed
        }
        if closed { callback() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    private func fire() {
        let callbacks = state.withLock { state in
            state.closed = true
            defer { state.callbacks.removeAll() }
            return state.callbacks
        }
        for callback in callbacks { callback() }
    }
}
