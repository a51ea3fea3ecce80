import CLabZlib

/// A check to run before ZIPFoundation reads an uploaded ZIP in memory (`Archive(data:)`), for two
/// faults of ZIPFoundation 0.9.20 found by the fuzzer: its in-memory file lets a seek land past the
/// end, and the next read traps on a negative range (one crafted upload would stop the server);
/// and when it finds no end record it throws without closing that file, leaking a copy of the
/// upload. This walks the records ZIPFoundation walks and refuses both kinds of archive first.
enum ZIPBounds {
    /// Whether ZIPFoundation can open `bytes` and list and extract their entries with every seek
    /// inside them. ZIP64 entries are refused: an upload is far below 4 GiB, and their offsets
    /// would come from extra fields.
    static func isSafe(_ bytes: [UInt8]) -> Bool {
        let count = UInt64(bytes.count)
        func number(_ offset: UInt64, _ size: Int) -> UInt64? {
            guard offset <= count, UInt64(size) <= count - offset else { return nil }
            let start = Int(offset)
            return (0..<size).reduce(0) { $0 | UInt64(bytes[start + $1]) << (8 * UInt64($1)) }
        }
        // The end record: ZIPFoundation takes the last signature, scanning back from the end.
        guard count >= 22 else { return false }
        var end = count - 22
        while number(end, 4) != 0x0605_4B50 {
            guard end > 0 else { return false }  // no end record: ZIPFoundation would throw and leak
            end -= 1
        }
        // Likewise when the end record's comment runs past the end.
        guard let commentLength = number(end + 20, 2), commentLength <= count - end - 22 else { return false }
        var entries = number(end + 10, 2) ?? 0
        var directory = number(end + 16, 4) ?? 0
        // A ZIP64 end record, read where ZIPFoundation reads it: right before its locator, right before the end record.
        if end > 20 + 56, number(end - 20, 4) == 0x0706_4B50, number(end - 76, 4) == 0x0606_4B50 {
            entries = number(end - 76 + 32, 8) ?? 0
            directory = number(end - 76 + 48, 8) ?? 0
        }
        var index: UInt64 = 0
        while index < entries {
            // ZIPFoundation seeks to each record before it reads: past the end is the trap.
            guard directory <= count else { return false }
            guard number(directory, 4) == 0x0201_4B50, let flags = number(directory + 8, 2),
                let method = number(directory + 10, 2), let compressed = number(directory + 20, 4),
                let uncompressed = number(directory + 24, 4), let nameLength = number(directory + 28, 2),
                let extraLength = number(directory + 30, 2), let commentLength = number(directory + 32, 2),
                let local = number(directory + 42, 4), directory + 46 + nameLength + extraLength + commentLength <= count
            else { return true }  // ZIPFoundation stops listing entries at a record it cannot read
            guard compressed != 0xFFFF_FFFF, uncompressed != 0xFFFF_FFFF, local != 0xFFFF_FFFF, local <= count else {
                return false
            }
            guard number(local, 4) == 0x0403_4B50, let localName = number(local + 26, 2), let localExtra = number(local + 28, 2),
                local + 30 + localName + localExtra <= count
            else { return true }  // likewise at a local header it cannot read
            // The data (and a data descriptor after it) must lie inside the bytes too.
            let data = local + 30 + localName + localExtra
            let size = method == 0 && flags & 8 != 0 ? uncompressed : compressed
            guard size <= count - data, compressed <= count - data else { return false }
            // ZIPFoundation inflates by the local header's method until the stream ends, reading
            // empty chunks forever at the end of the bytes: a stream that never ends hangs it.
            if number(local + 8, 2) == 8, !deflateStops(bytes, from: Int(data), declared: uncompressed) { return false }
            directory += 46 + nameLength + extraLength + commentLength
            index += 1
        }
        return true
    }

    /// Whether inflating from `start` stops by itself: the stream ends, is corrupt (ZIPFoundation
    /// throws), or outgrows the declared size (the unpackers' own bound stops it). Only running out
    /// of bytes first would loop. Costs one more inflate of each deflated entry, discarded as it goes.
    static func deflateStops(_ bytes: [UInt8], from start: Int, declared: UInt64) -> Bool {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return false }
        defer { inflateEnd(&stream) }
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var produced: UInt64 = 0
        return bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + start)
            stream.avail_in = uInt(input.count - start)
            while true {
                let status = scratch.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                produced += UInt64(scratch.count) - UInt64(stream.avail_out)
                if status == Z_STREAM_END || produced > declared { return true }
                if status != Z_OK && status != Z_BUF_ERROR { return true }
                if stream.avail_in == 0 && stream.avail_out != 0 { return false }
            }
        }
    }
}
