//! Wall-clock milliseconds as UTC text, for people reading a history (`locks
//! show`, `watch`). A few lines of civil-calendar arithmetic instead of a date
//! crate. The protocol never compares these times: they are for people only.

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn iso_utc(ms: u64) -> String {
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// `ms` since the Unix epoch as the time of day, `HH:MM:SS` (UTC).
pub fn time_utc(ms: u64) -> String {
    let rest = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch, where it needs no signs).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Counted from 0000-03-01, so that a leap day is the last day of its year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_iso_utc() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        // A leap day and the day after it.
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_utc(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(iso_utc(951_868_800_000), "2000-03-01T00:00:00.000Z");
        assert_eq!(iso_utc(4_102_444_800_000), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_time_of_day_is_the_iso_text_cut_short() {
        assert_eq!(time_utc(1_700_000_000_123), "22:13:20");
        assert_eq!(time_utc(0), "00:00:00");
        assert!(iso_utc(1_700_000_000_123).contains(&time_utc(1_700_000_000_123)));
    }

    #[test]
    fn the_largest_time_formats_without_overflow() {
        assert!(iso_utc(u64::MAX).ends_with('Z'));
    }
}
