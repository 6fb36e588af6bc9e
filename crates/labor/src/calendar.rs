//! Local wall-clock arithmetic for departments and schedules: which business date and hour an
//! instant falls in, where a business day begins and ends, and when a daily wall-clock time last
//! occurred. DST-correct: the spring day has no 02:00 hour, the autumn day's repeated hour is one
//! bucket, and a time inside the spring gap happens when the gap ends.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
pub use tillbridge_model::business_day::local_instant;
use tillbridge_model::business_day::{business_date, BusinessDayStart};

/// The business date and local hour (0–23) an instant counts in.
pub fn slot(instant: DateTime<Utc>, zone: Tz, day_start: NaiveTime) -> (NaiveDate, u32) {
    let date = business_date(instant, zone, BusinessDayStart(day_start));
    (date, instant.with_timezone(&zone).hour())
}

/// `[start, end)` of a business date in UTC.
pub fn day_bounds(
    date: NaiveDate,
    zone: Tz,
    day_start: NaiveTime,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.succ_opt().unwrap_or(date);
    (
        local_instant(date, day_start, zone),
        local_instant(next, day_start, zone),
    )
}

/// The latest instant at or before `now` at which the wall clock in `zone` showed `time`
/// (by [`local_instant`]'s reading of repeated and missing times).
pub fn last_occurrence(now: DateTime<Utc>, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let today = now.with_timezone(&zone).date_naive();
    let mut date = today.succ_opt().unwrap_or(today);
    for _ in 0..4 {
        let at = local_instant(date, time, zone);
        if at <= now {
            return at;
        }
        date = date.pred_opt().unwrap_or(date);
    }
    local_instant(date, time, zone)
}

/// The Monday of the week (Monday–Sunday) that holds `date`.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// Every date of `[from, until]`.
pub fn dates(from: NaiveDate, until: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cph() -> Tz {
        "Europe/Copenhagen".parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn slots_follow_the_local_hour_and_the_business_day_start() {
        let five = time("05:00");
        let cases = [
            // (instant, business date, local hour)
            ("2026-11-20T09:15:00Z", "2026-11-20", 10),
            ("2026-11-20T03:59:59Z", "2026-11-19", 4),
            ("2026-11-20T04:00:00Z", "2026-11-20", 5),
            ("2026-11-20T23:30:00Z", "2026-11-20", 0),
            // Autumn 2026: 02:00–02:59 happens twice (00:xx and 01:xx UTC); one bucket.
            ("2026-10-25T00:30:00Z", "2026-10-24", 2),
            ("2026-10-25T01:30:00Z", "2026-10-24", 2),
            ("2026-10-25T02:30:00Z", "2026-10-24", 3),
            // Spring 2027: 01:59 UTC+1 is followed by 03:00 UTC+2; there is no 02 hour.
            ("2027-03-28T00:59:00Z", "2027-03-27", 1),
            ("2027-03-28T01:00:00Z", "2027-03-27", 3),
        ];
        for (at, d, h) in cases {
            assert_eq!(slot(utc(at), cph(), five), (date(d), h), "{at}");
        }
    }

    #[test]
    fn business_days_are_23_24_or_25_hours_long() {
        let midnight = NaiveTime::MIN;
        let len = |d: &str| {
            let (a, b) = day_bounds(date(d), cph(), midnight);
            (b - a).num_hours()
        };
        assert_eq!(len("2026-11-20"), 24);
        assert_eq!(len("2026-10-25"), 25);
        assert_eq!(len("2027-03-28"), 23);
        let (start, _) = day_bounds(date("2026-11-20"), cph(), time("05:00"));
        assert_eq!(start, utc("2026-11-20T04:00:00Z"));
    }

    #[test]
    fn a_daily_time_fires_once_on_both_sides_of_a_dst_change() {
        let two = time("02:00");
        // Winter: 02:00 CET = 01:00 UTC.
        assert_eq!(
            last_occurrence(utc("2026-11-22T12:00:00Z"), two, cph()),
            utc("2026-11-22T01:00:00Z")
        );
        // Summer: 02:00 CEST = 00:00 UTC.
        assert_eq!(
            last_occurrence(utc("2026-07-01T00:30:00Z"), two, cph()),
            utc("2026-07-01T00:00:00Z")
        );
        // Autumn: 02:00 happens twice; the first one counts, and the second is not another run.
        assert_eq!(
            last_occurrence(utc("2026-10-25T00:00:00Z"), two, cph()),
            utc("2026-10-25T00:00:00Z")
        );
        assert_eq!(
            last_occurrence(utc("2026-10-25T01:30:00Z"), two, cph()),
            utc("2026-10-25T00:00:00Z")
        );
        // Spring: 02:00 does not exist; the run happens as the gap ends (03:00 CEST = 01:00 UTC).
        assert_eq!(
            last_occurrence(utc("2027-03-28T00:59:00Z"), two, cph()),
            utc("2027-03-27T01:00:00Z")
        );
        assert_eq!(
            last_occurrence(utc("2027-03-28T01:00:00Z"), two, cph()),
            utc("2027-03-28T01:00:00Z")
        );
    }

    #[test]
    fn weeks_run_monday_to_sunday() {
        assert_eq!(week_start(date("2026-11-22")), date("2026-11-16"));
        assert_eq!(week_start(date("2026-11-23")), date("2026-11-23"));
        assert_eq!(dates(date("2026-11-29"), date("2026-12-02")).count(), 4);
    }
}
