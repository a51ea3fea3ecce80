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
    /// What it registers is forgotten once the function itself is released.
    func disconnectRegistration() async -> @Sendable (@escaping @Sendable () -> Void) -> Void {
        let watcher = try? await channel.pipeline.handler(type: ClientDisconnectWatcher.self).get()
        return Self.registration(on: watcher)
    }

    /// Registers with `watcher` through a `DisconnectRegistration` that the returned function
    /// owns, so the callbacks leave the watcher when the function is released: when the handler
    /// returns, or when the response body that captured it is gone.
    static func registration(on watcher: ClientDisconnectWatcher?) -> @Sendable (@escaping @Sendable () -> Void) -> Void {
        guard let watcher else { return { _ in } }
        let registration = DisconnectRegistration(watcher: watcher)
        return { cancel in registration.register(cancel) }
    }
}

/// The callbacks one request registered with its connection's watcher, removed when released.
///
/// A keep-alive connection carries many requests; without the removal each one's callback (and
/// the cancellation state it holds) stayed in the watcher until the connection closed, so a
/// client or proxy that keeps its connections open made the server's memory grow without bound.
final class DisconnectRegistration: Sendable {
    private let watcher: ClientDisconnectWatcher
    private let ids = Mutex<[UInt64]>([])

    init(watcher: ClientDisconnectWatcher) {
        self.watcher = watcher
    }

    func register(_ cancel: @escaping @Sendable () -> Void) {
        guard let id = watcher.onDisconnect(cancel) else { return }
        ids.withLock { $0.append(id) }
    }

    deinit { watcher.remove(ids.withLock { $0 }) }
}

/// Sits in each connection's pipeline and reports when the client closes its side.
final class ClientDisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    private struct State {
        var closed = false
        var nextID: UInt64 = 0
        var callbacks: [UInt64: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    /// Calls `callback` once the client disconnects (at once if it already has). Returns the id
    /// `remove` takes, or nil when the callback has already run.
    @discardableResult
    func onDisconnect(_ callback: @escaping @Sendable () -> Void) -> UInt64? {
        let id = state.withLock { state -> UInt64? in
            guard !state.closed else { return nil }
            state.nextID += 1
            state.callbacks[state.nextID] = callback
            return state.nextID
        }
        if id == nil { callback() }
        return id
    }

    /// Forgets callbacks whose request is over.
    func remove(_ ids: [UInt64]) {
        guard !ids.isEmpty else { return }
        state.withLock { state in
            for id in ids { state.callbacks[id] = nil }
        }
    }

    /// Callbacks waiting for the client to leave.
    var pending: Int { state.withLock { $0.callbacks.count } }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent { clientClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientClosed()
        context.fireChannelInactive()
    }

    /// Runs every waiting callback, and from now on each new one at once.
    func clientClosed() {
        let callbacks = state.withLock { state in
            state.closed = true
            defer { state.callbacks.removeAll() }
            return Array(state.callbacks.values)
        }
        for callback in callbacks { callback() }
    }
}
