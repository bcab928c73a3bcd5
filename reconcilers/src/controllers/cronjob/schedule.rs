//! Cron schedules as upstream's CronJob controller reads them (robfig/cron's standard
//! parser): five fields — minute, hour, day of month, month, day of week — of `*`, `?`,
//! values, names, ranges, steps and lists, or a descriptor (`@hourly`, `@daily`, ...). When
//! both day fields are restricted, a day matching either runs (cron's rule). Times are
//! computed in the schedule's time zone (`spec.timeZone`, UTC by default).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A parsed schedule: the allowed values of each field as bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// Whether a day field was `*` (then both day fields must match, not either).
    day_star: bool,
}

struct Field {
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value the first name stands for.
    names_from: u32,
}

const MINUTE: Field = Field {
    min: 0,
    max: 59,
    names: &[],
    names_from: 0,
};
const HOUR: Field = Field {
    min: 0,
    max: 23,
    names: &[],
    names_from: 0,
};
const DAY_OF_MONTH: Field = Field {
    min: 1,
    max: 31,
    names: &[],
    names_from: 0,
};
const MONTH: Field = Field {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    names_from: 1,
};
const DAY_OF_WEEK: Field = Field {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    names_from: 0,
};

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        return u32::try_from(i)
            .map(|i| i + field.names_from)
            .map_err(|e| e.to_string());
    }
    text.parse::<u32>().map_err(|_| {
        format!("failed to parse int from {text}: strconv.Atoi: parsing {text:?}: invalid syntax")
    })
}

fn bits(expr: &str, field: &Field) -> Result<(u64, bool), String> {
    let mut out = 0u64;
    let mut star = false;
    for part in expr.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let (start, end) = if range == "*" || range == "?" {
            star = step.is_none();
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, field)?, value(b, field)?)
        } else {
            let v = value(range, field)?;
            (v, if step.is_some() { field.max } else { v })
        };
        let step = match step {
            Some(s) => s
                .parse::<u32>()
                .map_err(|_| format!("failed to parse int from {s}"))?,
            None => 1,
        };
        // Sunday may be written 7.
        let (start, end) = if field.max == 6 && end == 7 {
            (start, 7)
        } else {
            (start, end)
        };
        if start < field.min || end > field.max.max(if field.max == 6 { 7 } else { field.max }) {
            return Err(format!(
                "end of range ({end}) above maximum ({})",
                field.max
            ));
        }
        if start > end {
            return Err(format!(
                "beginning of range ({start}) beyond end of range ({end})"
            ));
        }
        if step == 0 {
            return Err("step of range should be a positive number".into());
        }
        let mut v = start;
        while v <= end {
            out |= 1u64 << (if field.max == 6 { v % 7 } else { v });
            v = v.saturating_add(step);
        }
    }
    Ok((out, star))
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!("unrecognized descriptor: {other}"))
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(format!(
                "expected exactly 5 fields, found {}: {text}",
                fields.len()
            ));
        };
        let (days_of_month, dom_star) = bits(dom, &DAY_OF_MONTH)?;
        let (days_of_week, dow_star) = bits(dow, &DAY_OF_WEEK)?;
        Ok(Schedule {
            minutes: bits(minute, &MINUTE)?.0,
            hours: bits(hour, &HOUR)?.0,
            days_of_month,
            months: bits(month, &MONTH)?.0,
            days_of_week,
            day_star: dom_star || dow_star,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let bit = |n: i8| {
            u32::try_from(n)
                .ok()
                .and_then(|n| 1u64.checked_shl(n))
                .unwrap_or(0)
        };
        let dom = self.days_of_month & bit(date.day()) != 0;
        let dow = self.days_of_week & bit(date.weekday().to_sunday_zero_offset()) != 0;
        let month = self.months & bit(date.month()) != 0;
        month
            && if self.day_star {
                dom && dow
            } else {
                dom || dow
            }
    }

    /// The first activation strictly after `after`, in `zone`; none within five years.
    pub fn next(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(zone.clone()).datetime();
        let mut date = start.date();
        for _ in 0..(5 * 366) {
            if self.day_matches(date) {
                for hour in 0..24i8 {
                    if self.hours & (1u64 << hour) == 0 {
                        continue;
                    }
                    for minute in 0..60i8 {
                        if self.minutes & (1u64 << minute) == 0 {
                            continue;
                        }
                        let candidate =
                            DateTime::from_parts(date, jiff::civil::time(hour, minute, 0, 0));
                        if candidate <= start {
                            continue;
                        }
                        if let Ok(zoned) = candidate.to_zoned(zone.clone()) {
                            return Some(zoned.timestamp());
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The most recent activation at or before `now` and after `since`, with how many were
    /// missed in between (more than one means runs were missed).
    pub fn most_recent(
        &self,
        since: Timestamp,
        now: Timestamp,
        zone: &TimeZone,
    ) -> (Option<Timestamp>, usize) {
        let mut last = None;
        let mut count = 0usize;
        let mut t = since;
        while let Some(next) = self.next(t, zone) {
            if next > now {
                break;
            }
            last = Some(next);
            count += 1;
            t = next;
            // Upstream stops counting past a hundred missed runs.
            if count > 100 {
                break;
            }
        }
        (last, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn schedules_parse_as_robfig_reads_them() {
        assert!(Schedule::parse("*/5 * * * *").is_ok());
        assert!(Schedule::parse("0 9-17 * jan-mar mon,fri").is_ok());
        assert!(Schedule::parse("@hourly").is_ok());
        assert!(Schedule::parse("0 0 * * 7").is_ok());
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("* * * *").is_err());
        assert!(Schedule::parse("@sometimes").is_err());
    }

    #[test]
    fn next_activations() {
        let utc = TimeZone::UTC;
        let every_five = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            every_five.next(at("2026-01-01T10:02:30Z"), &utc),
            Some(at("2026-01-01T10:05:00Z"))
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next(at("2026-01-01T10:00:00Z"), &utc),
            Some(at("2026-01-01T11:00:00Z"))
        );
        // Either day field may match when both are restricted: the 13th, or any Friday.
        let either = Schedule::parse("0 0 13 * 5").unwrap();
        assert_eq!(
            either.next(at("2026-02-01T00:00:00Z"), &utc),
            Some(at("2026-02-06T00:00:00Z"))
        );
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next(at("2026-03-01T00:00:00Z"), &utc),
            Some(at("2028-02-29T00:00:00Z"))
        );
        let (last, missed) =
            every_five.most_recent(at("2026-01-01T10:00:00Z"), at("2026-01-01T10:17:00Z"), &utc);
        assert_eq!((last, missed), (Some(at("2026-01-01T10:15:00Z")), 3));
    }

    #[test]
    fn time_zones_shift_activations() {
        let daily = Schedule::parse("0 9 * * *").unwrap();
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(
            daily.next(at("2026-01-01T00:00:00Z"), &tokyo),
            Some(at("2026-01-02T00:00:00Z"))
        );
    }
}
