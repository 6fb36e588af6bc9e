//! Business dates: a sale closed at 02:00 belongs to the previous business day when the
//! location's day starts at 05:00. Computed on local wall-clock time, so DST changes are exact.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The local wall-clock time at which a location's business day begins (often 00:00 or 05:00).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessDayStart(pub NaiveTime);

impl Default for BusinessDayStart {
    fn default() -> Self {
        BusinessDayStart(NaiveTime::MIN)
    }
}

/// A span insights sum over: a business date, an ISO week (from Monday) or a calendar month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    #[default]
    Month,
}

impl Period {
    /// The first day of the period holding `d`.
    pub fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Period::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// The first day of the period after the one starting on `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => start + Days::new(1),
            Period::Week => start + Days::new(7),
            Period::Month => start + Months::new(1),
        }
    }
}

pub fn business_date(instant: DateTime<Utc>, zone: Tz, start: BusinessDayStart) -> NaiveDate {
    let local = instant.with_timezone(&zone).naive_local();
    let since_midnight = start.0.signed_duration_since(NaiveTime::MIN);
    (local - since_midnight).date()
}

/// The instant the wall clock in `zone` shows `time` on `date`: the first of two when the hour
/// repeats, and the moment the gap ends when the time does not exist that day.
pub fn local_instant(date: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    use chrono::{Duration, TimeZone};
    let local = date.and_time(time);
    for minutes in 0..=240 {
        if let Some(at) = zone
            .from_local_datetime(&(local + Duration::minutes(minutes)))
            .earliest()
        {
            return at.with_timezone(&Utc);
        }
    }
    // No zone has a gap of four hours; fall back to reading the wall clock as UTC.
    local.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_start_on_monday_and_the_first_of_the_month() {
        assert_eq!(Period::Week.start(d("2026-11-22")), d("2026-11-16"));
        assert_eq!(Period::Week.start(d("2026-11-16")), d("2026-11-16"));
        assert_eq!(Period::Month.start(d("2026-02-28")), d("2026-02-01"));
        assert_eq!(Period::Month.next(d("2026-01-01")), d("2026-02-01"));
        assert_eq!(Period::Day.next(d("2026-12-31")), d("2027-01-01"));
    }

    #[test]
    fn early_hours_belong_to_the_previous_business_day() {
        let five = BusinessDayStart(NaiveTime::from_hms_opt(5, 0, 0).unwrap());
        let zone: Tz = "Europe/Copenhagen".parse().unwrap();
        // 01:30 UTC = 02:30 local (winter): before 05:00, so the previous day.
        assert_eq!(
            business_date(utc(2026, 1, 10, 1, 30), zone, five),
            NaiveDate::from_ymd_opt(2026, 1, 9).unwrap()
        );
        assert_eq!(
            business_date(utc(2026, 1, 10, 4, 0), zone, five),
            NaiveDate::from_ymd_opt(2026, 1, 10).unwrap()
        );
    }

    #[test]
    fn dst_change_uses_local_wall_clock() {
        let zone: Tz = "Europe/Copenhagen".parse().unwrap();
        let midnight = BusinessDayStart::default();
        // 2026-03-29 clocks jump from 02:00 to 03:00 local; 22:30 UTC on 28 March is 23:30 local.
        assert_eq!(
            business_date(utc(2026, 3, 28, 22, 30), zone, midnight),
            NaiveDate::from_ymd_opt(2026, 3, 28).unwrap()
        );
        // 22:30 UTC on 29 March is already 00:30 local on the 30th (UTC+2).
        assert_eq!(
            business_date(utc(2026, 3, 29, 22, 30), zone, midnight),
            NaiveDate::from_ymd_opt(2026, 3, 30).unwrap()
        );
    }
}
