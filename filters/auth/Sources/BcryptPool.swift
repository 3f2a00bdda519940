import NIOPosix

/// The threads bcrypt runs on, shared by every `basic` method of the process: bcrypt costs tens of
/// milliseconds of CPU, which on an event loop would stall every connection of that loop. Two threads
/// keep a flood of wrong passwords from taking more than two cores; `max_pending` bounds the queue.
enum BcryptPool {
    static let shared: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()
}
