// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock times as the image formats write them.
public enum Clock {
    /// Now, as RFC 3339 in UTC with nanoseconds (`2026-11-26T17:52:32.123456789Z`).
    public static func rfc3339Now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return rfc3339(seconds: ts.tv_sec, nanoseconds: ts.tv_nsec)
    }

    /// Now, in nanoseconds since the epoch.
    public static func nowNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// RFC 3339 in UTC.
    public static func rfc3339(seconds: Int, nanoseconds: Int) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        var frac = ""
        if nanoseconds > 0 {
            let s = String(nanoseconds)
            frac = "." + String(repeating: "0", count: 9 - s.count) + s
            while frac.hasSuffix("0") { frac.removeLast() }
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2))\(frac)Z"
    }

    /// Seconds since the epoch of an RFC 3339 UTC time (the fraction ignored).
    public static func parseRFC3339(_ s: String) -> Int? {
        let digits = s.split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) }
        guard digits.count >= 6 else { return nil }
        var tm = tm()
        tm.tm_year = digits[0] - 1900
        tm.tm_mon = digits[1] - 1
        tm.tm_mday = digits[2]
        tm.tm_hour = digits[3]
        tm.tm_min = digits[4]
        tm.tm_sec = digits[5]
        return Int(timegm(&tm))
    }
}
