//! Report ranges: parsing `from`/`to`, defaults, limits, and the UTC
//! instants store-local days and months start at.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::sales::search::day_start;
use crate::validate::Check;

/// Longest daily (and summary) range, in days.
pub const MAX_DAYS: i64 = 366;
/// Longest monthly range, in months.
pub const MAX_MONTHS: i64 = 120;
/// Days in the default daily range (today and the six before).
pub const DEFAULT_DAYS: i64 = 7;

const DATE_HELP: &str = "Must be a date as YYYY-MM-DD, e.g. 2026-11-24.";
const MONTH_HELP: &str = "Must be a month as YYYY-MM, e.g. 2026-11.";

fn blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| d.year() >= 1970)
}

fn parse_month(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let year: i32 = s[..4].parse().ok()?;
    let month: u32 = s[5..].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, 1).filter(|d| d.year() >= 1970)
}

/// An inclusive range of store-local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Days {
    /// `default_days` back from `to` when `from` is absent; `to` defaults to
    /// today. A summary's default is one day (today).
    pub fn parse(
        check: &mut Check,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
        default_days: i64,
    ) -> Option<Days> {
        let (from, to) = (blank(from), blank(to));
        let parsed_from = from.map(|s| parse_date(s).ok_or(()));
        let parsed_to = to.map(|s| parse_date(s).ok_or(()));
        if let Some(Err(())) = parsed_from {
            check.add("from", DATE_HELP);
        }
        if let Some(Err(())) = parsed_to {
            check.add("to", DATE_HELP);
        }
        let (Ok(from), Ok(to)) = (parsed_from.transpose(), parsed_to.transpose()) else {
            return None;
        };
        let to = match (from, to) {
            (_, Some(to)) => to,
            // From a given day up to today (or that day, if it is later:
            // then the range is the one day, which is not an error).
            (Some(from), None) => today.max(from),
            (None, None) => today,
        };
        let from = from.unwrap_or(to - Duration::days(default_days - 1));
        if from > to {
            check.add("from", "Must not be after `to`.");
            return None;
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_DAYS {
            check.add(
                "to",
                format!("The range may span at most {MAX_DAYS} days; this one spans {days}."),
            );
            return None;
        }
        Some(Days { from, to })
    }

    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    /// `[start, end)` of each day, in UTC.
    pub fn periods(&self, tz: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.dates().map(|d| day_bounds(tz, d, 1)).collect()
    }

    /// `[start, end)` of the whole range, in UTC.
    pub fn whole(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        day_bounds(tz, self.from, (self.to - self.from).num_days() + 1)
    }
}

fn day_bounds(tz: Tz, day: NaiveDate, days: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        day_start(tz, day),
        day_start(tz, day + Duration::days(days)),
    )
}

/// An inclusive range of months, each as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl MonthRange {
    /// Defaults: the whole year of the other bound, or of today.
    pub fn parse(
        check: &mut Check,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Option<MonthRange> {
        let (from, to) = (blank(from), blank(to));
        let parsed_from = from.map(|s| parse_month(s).ok_or(()));
        let parsed_to = to.map(|s| parse_month(s).ok_or(()));
        if let Some(Err(())) = parsed_from {
            check.add("from", MONTH_HELP);
        }
        if let Some(Err(())) = parsed_to {
            check.add("to", MONTH_HELP);
        }
        let (Ok(from), Ok(to)) = (parsed_from.transpose(), parsed_to.transpose()) else {
            return None;
        };
        let year = |d: NaiveDate| d.year();
        let from = from.unwrap_or_else(|| {
            NaiveDate::from_ymd_opt(year(to.unwrap_or(today)), 1, 1).expect("January")
        });
        let to =
            to.unwrap_or_else(|| NaiveDate::from_ymd_opt(year(from), 12, 1).expect("December"));
        if from > to {
            check.add("from", "Must not be after `to`.");
            return None;
        }
        let months = i64::from(to.year() - from.year()) * 12 + i64::from(to.month())
            - i64::from(from.month())
            + 1;
        if months > MAX_MONTHS {
            check.add(
                "to",
                format!("The range may span at most {MAX_MONTHS} months; this one spans {months}."),
            );
            return None;
        }
        Some(MonthRange { from, to })
    }

    pub fn months(&self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut m = self.from;
        while m <= self.to {
            out.push(m);
            m = m + Months::new(1);
        }
        out
    }

    /// `[start, end)` of each month, in UTC.
    pub fn periods(&self, tz: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.months()
            .into_iter()
            .map(|m| (day_start(tz, m), day_start(tz, m + Months::new(1))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn days(from: Option<&str>, to: Option<&str>) -> Result<Days, Vec<String>> {
        let mut c = Check::new();
        let r = Days::parse(&mut c, from, to, d("2026-11-24"), DEFAULT_DAYS);
        match c.finish() {
            Ok(()) => Ok(r.unwrap()),
            Err(crate::error::ApiError::Validation(f)) => Err(f.into_keys().collect()),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn day_ranges() {
        assert_eq!(
            days(None, None),
            Ok(Days {
                from: d("2026-11-18"),
                to: d("2026-11-24")
            })
        );
        assert_eq!(days(Some("2026-11-01"), None).unwrap().to, d("2026-11-24"));
        assert_eq!(
            days(None, Some("2026-01-07")).unwrap().from,
            d("2026-01-01")
        );
        assert_eq!(
            days(Some("2025-01-01"), Some("2025-12-31"))
                .unwrap()
                .dates()
                .count(),
            365
        );
        assert!(
            days(Some("2024-01-01"), Some("2024-12-31")).is_ok(),
            "366 days"
        );
        assert_eq!(
            days(Some("2024-01-01"), Some("2025-01-01")),
            Err(vec!["to".into()])
        );
        assert_eq!(
            days(Some("2026-11-25"), Some("2026-11-24")),
            Err(vec!["from".into()])
        );
        assert_eq!(
            days(Some("2026-13-01"), Some("nope")),
            Err(vec!["from".into(), "to".into()])
        );
        assert_eq!(days(Some("2026-2-01"), None), Err(vec!["from".into()]));
        assert_eq!(days(Some("2026-02-30"), None), Err(vec!["from".into()]));
        assert!(days(Some(" "), Some("")).is_ok(), "blank is absent");
    }

    #[test]
    fn month_ranges() {
        let months = |from: Option<&str>, to: Option<&str>| {
            let mut c = Check::new();
            let r = MonthRange::parse(&mut c, from, to, d("2026-11-24"));
            c.finish().ok().and(r)
        };
        let r = months(None, None).unwrap();
        assert_eq!((r.from, r.to), (d("2026-01-01"), d("2026-12-01")));
        assert_eq!(r.months().len(), 12);
        assert_eq!(months(Some("2025-06"), None).unwrap().to, d("2025-12-01"));
        assert_eq!(months(None, Some("2024-03")).unwrap().from, d("2024-01-01"));
        assert!(
            months(Some("2017-01"), Some("2026-12")).is_some(),
            "120 months"
        );
        assert!(months(Some("2016-12"), Some("2026-12")).is_none());
        assert!(months(Some("2026-13"), None).is_none());
        assert!(months(Some("2026-1"), None).is_none());
        assert!(months(Some("2026-05"), Some("2026-04")).is_none());
    }

    #[test]
    fn local_days_in_utc() {
        let r = Days {
            from: d("2026-11-24"),
            to: d("2026-11-24"),
        };
        let (start, end) = r.periods(chrono_tz::Asia::Jakarta)[0];
        assert_eq!(start.to_rfc3339(), "2026-11-23T17:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-24T17:00:00+00:00");
    }
}
