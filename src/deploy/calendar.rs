//! The deploy calendar (shared/reference/original-tools.md, section 16), as pure functions.
//!
//! - Full deploys: on the configured weekdays (`deploy.days`, default Tuesday and Thursday), never
//!   on a weekend or a Friday (no scramble before the weekend), never on a US federal holiday (as
//!   observed), never in a freeze window (`deploy.freeze`, default Dec 25 through New Year's Day).
//!   Any other day is off-cycle: the caller needs `--off-cycle --reason`.
//! - Patch deploys (urgent fixes): any working day, i.e. not a weekend and not a federal holiday.
//!   A Friday or a freeze window is allowed with a warning: urgent fixes are what patches are for.
//!
//! Days are calendar days in the deploy's time zone (`deploy.time_zone`, default America/New_York),
//! not UTC: a deploy at 20:00 on a Monday in Washington is on Monday, although it is Tuesday in UTC.

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::config::Deploy as DeploySettings;
use crate::error::preflight;

/// Which kind of production deploy is being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployKind {
    /// An RC: the calendar's days only.
    Full,
    /// An urgent fix: any working day.
    Patch,
}

// ---------------------------------------------------------------------------------------------
// US federal holidays

/// The federal holidays of 5 U.S.C. 6103(a).
///
/// Inauguration Day (6103(c)) is left out on purpose: it is a holiday only for federal employees in
/// the District of Columbia and the surrounding counties, once every four years. The release team
/// and the people who use login.gov are spread across the country, so it is not a day "when many
/// are away"; a team that wants it can add it as a dated freeze window (`2029-01-20..2029-01-20`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayName {
    NewYearsDay,
    MartinLutherKingJrDay,
    WashingtonsBirthday,
    MemorialDay,
    Juneteenth,
    IndependenceDay,
    LaborDay,
    ColumbusDay,
    VeteransDay,
    Thanksgiving,
    Christmas,
}

impl HolidayName {
    pub fn title(self) -> &'static str {
        match self {
            HolidayName::NewYearsDay => "New Year's Day",
            HolidayName::MartinLutherKingJrDay => "Birthday of Martin Luther King, Jr.",
            HolidayName::WashingtonsBirthday => "Washington's Birthday",
            HolidayName::MemorialDay => "Memorial Day",
            HolidayName::Juneteenth => "Juneteenth National Independence Day",
            HolidayName::IndependenceDay => "Independence Day",
            HolidayName::LaborDay => "Labor Day",
            HolidayName::ColumbusDay => "Columbus Day",
            HolidayName::VeteransDay => "Veterans Day",
            HolidayName::Thanksgiving => "Thanksgiving Day",
            HolidayName::Christmas => "Christmas Day",
        }
    }
}

/// One holiday: its legal date and the day it is observed (the day off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub name: HolidayName,
    pub date: Date,
    pub observed: Date,
}

impl fmt::Display for Holiday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.date == self.observed {
            write!(f, "{}", self.name.title())
        } else {
            write!(
                f,
                "{} (observed; the holiday is {})",
                self.name.title(),
                self.date
            )
        }
    }
}

/// The day off for a holiday on `date`: a Saturday holiday is observed the Friday before, a Sunday
/// holiday the Monday after (5 U.S.C. 6103(b) and Executive Order 11582).
pub fn observed(date: Date) -> Date {
    match date.weekday() {
        Weekday::Saturday => date.yesterday().expect("not the first representable day"),
        Weekday::Sunday => date.tomorrow().expect("not the last representable day"),
        _ => date,
    }
}

/// The holidays whose legal date falls in `year`, in date order.
pub fn legal_holidays(year: i16) -> Vec<Holiday> {
    use HolidayName::*;
    let fixed = |m: i8, d: i8| Date::new(year, m, d).expect("a fixed holiday is a real date");
    let nth = |m: i8, n: i8, wd: Weekday| {
        fixed(m, 1)
            .nth_weekday_of_month(n, wd)
            .expect("every month has a first to fourth and a last weekday")
    };
    let mut dates = vec![
        (NewYearsDay, fixed(1, 1)),
        (MartinLutherKingJrDay, nth(1, 3, Weekday::Monday)),
        (WashingtonsBirthday, nth(2, 3, Weekday::Monday)),
        (MemorialDay, nth(5, -1, Weekday::Monday)),
        (IndependenceDay, fixed(7, 4)),
        (LaborDay, nth(9, 1, Weekday::Monday)),
        (ColumbusDay, nth(10, 2, Weekday::Monday)),
        (VeteransDay, fixed(11, 11)),
        (Thanksgiving, nth(11, 4, Weekday::Thursday)),
        (Christmas, fixed(12, 25)),
    ];
    // Juneteenth became a federal holiday on June 17, 2021.
    if year >= 2021 {
        dates.push((Juneteenth, fixed(6, 19)));
    }
    dates.sort_by_key(|(_, d)| *d);
    dates
        .into_iter()
        .map(|(name, date)| Holiday {
            name,
            date,
            observed: observed(date),
        })
        .collect()
}

/// The holidays observed in `year`, in order. This can include the next year's New Year's Day:
/// when January 1 is a Saturday it is observed on Friday, December 31 (as in 2021 and 2027).
pub fn holidays_observed_in(year: i16) -> Vec<Holiday> {
    let next = year.checked_add(1).map(legal_holidays).unwrap_or_default();
    let mut all: Vec<Holiday> = legal_holidays(year)
        .into_iter()
        .chain(next)
        .filter(|h| h.observed.year() == year)
        .collect();
    all.sort_by_key(|h| h.observed);
    all
}

/// The holiday observed on `date`, if any.
pub fn holiday_on(date: Date) -> Option<Holiday> {
    // Only the observed day can be in another year than the holiday's (Dec 31 for Jan 1).
    holidays_observed_in(date.year())
        .into_iter()
        .find(|h| h.observed == date)
}

// ---------------------------------------------------------------------------------------------
// Freeze windows

/// A range of days (both ends included) with no full deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeWindow {
    /// Every year, `(month, day)` to `(month, day)`; a window whose end comes before its start in
    /// the year runs over New Year (`12-25..01-01`).
    Yearly { from: (i8, i8), to: (i8, i8) },
    /// Once: from one date to another.
    Once { from: Date, to: Date },
}

impl FreezeWindow {
    /// `MM-DD..MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<FreezeWindow, String> {
        let bad = |why: &str| format!("`{text}` is not a freeze window ({why})");
        let (a, b) = text
            .trim()
            .split_once("..")
            .ok_or_else(|| bad("write FROM..TO, e.g. 12-25..01-01 or 2026-11-25..2026-11-30"))?;
        let (a, b) = (a.trim(), b.trim());
        if let (Ok(from), Ok(to)) = (a.parse::<Date>(), b.parse::<Date>()) {
            if to < from {
                return Err(bad("it ends before it starts"));
            }
            return Ok(FreezeWindow::Once { from, to });
        }
        let md = |s: &str| -> Result<(i8, i8), String> {
            let (m, d) = s
                .split_once('-')
                .filter(|(m, d)| m.len() == 2 && d.len() == 2)
                .ok_or_else(|| bad("each end is MM-DD or YYYY-MM-DD"))?;
            let (m, d): (i8, i8) = (
                m.parse().map_err(|_| bad("the month is not a number"))?,
                d.parse().map_err(|_| bad("the day is not a number"))?,
            );
            // A leap year, so 02-29 is accepted (it only matches in leap years).
            Date::new(2024, m, d).map_err(|_| bad(&format!("{s} is not a day of the year")))?;
            Ok((m, d))
        };
        Ok(FreezeWindow::Yearly {
            from: md(a)?,
            to: md(b)?,
        })
    }

    pub fn contains(&self, date: Date) -> bool {
        match *self {
            FreezeWindow::Once { from, to } => from <= date && date <= to,
            FreezeWindow::Yearly { from, to } => {
                let day = (date.month(), date.day());
                if from <= to {
                    from <= day && day <= to
                } else {
                    day >= from || day <= to
                }
            }
        }
    }
}

impl fmt::Display for FreezeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FreezeWindow::Yearly { from, to } => {
                write!(f, "{:02}-{:02}..{:02}-{:02}", from.0, from.1, to.0, to.1)
            }
            FreezeWindow::Once { from, to } => write!(f, "{from}..{to}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The verdict

/// Why a day is off-cycle (or deserves a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Weekend(Weekday),
    /// Never a full deploy on a Friday; a patch gets a warning.
    Friday,
    /// A weekday that is not one of `deploy.days`.
    NotADeployDay(Weekday),
    Holiday(Holiday),
    Freeze(FreezeWindow),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Weekend(d) => write!(f, "{} is a weekend day", day_name(*d)),
            Reason::Friday => f.write_str("Friday: no release scramble before the weekend"),
            Reason::NotADeployDay(d) => write!(f, "{} is not a deploy day", day_name(*d)),
            Reason::Holiday(h) => write!(f, "federal holiday: {h}"),
            Reason::Freeze(w) => write!(f, "inside the freeze window {w}"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The calendar's answer for one day and one kind of deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    Allowed,
    /// Allowed, but say this loudly (a patch on a Friday or in a freeze window).
    Warn {
        warnings: Vec<Reason>,
    },
    /// Outside the calendar: needs `--off-cycle --reason`.
    OffCycle {
        reasons: Vec<Reason>,
    },
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Verdict::OffCycle { .. })
    }
}

/// `Tue`, as people read it in a plan.
pub fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// `Thu 2026-12-03`.
pub fn show_date(d: Date) -> String {
    format!("{} {d}", day_name(d.weekday()))
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.trim().to_ascii_lowercase();
    let all = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    all.into_iter()
        .zip(full)
        .find(|(_, name)| s == *name || (s.len() == 3 && name.starts_with(s.as_str())))
        .map(|(d, _)| d)
}

/// How far [`Calendar::next_allowed`] looks ahead before giving up: two years, so a long freeze
/// still finds its end, and a calendar that allows nothing cannot loop forever.
const LOOKAHEAD_DAYS: i64 = 732;

/// The deploy calendar, parsed and checked.
#[derive(Debug, Clone)]
pub struct Calendar {
    days: Vec<Weekday>,
    freezes: Vec<FreezeWindow>,
    tz: TimeZone,
    tz_name: String,
}

impl Calendar {
    /// Checks the settings: a bad value is a preflight error naming the key.
    pub fn from_settings(s: &DeploySettings) -> anyhow::Result<Calendar> {
        let bad = |key: &str, why: String| {
            preflight(
                format!("setting `{key}`: {why}"),
                "fix it in your config file or environment (`login-release config` shows where it comes from)",
            )
        };
        let mut days = Vec::new();
        for d in &s.days {
            let day = parse_weekday(d)
                .ok_or_else(|| bad("deploy.days", format!("`{d}` is not a weekday (mon..sun)")))?;
            if matches!(day, Weekday::Friday | Weekday::Saturday | Weekday::Sunday) {
                return Err(bad(
                    "deploy.days",
                    format!(
                        "{} cannot be a deploy day: the runbook never deploys on Fridays or weekends",
                        day_name(day)
                    ),
                ));
            }
            if !days.contains(&day) {
                days.push(day);
            }
        }
        if days.is_empty() {
            return Err(bad(
                "deploy.days",
                "no deploy day is set (the default is tue, thu)".into(),
            ));
        }
        days.sort_by_key(|d| d.to_monday_one_offset());
        let freezes = s
            .freeze
            .iter()
            .map(|w| FreezeWindow::parse(w).map_err(|why| bad("deploy.freeze", why)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // The system tzdb first, else the copy bundled into the binary (Cargo.toml).
        let tz = TimeZone::get(&s.time_zone).map_err(|e| {
            bad(
                "deploy.time_zone",
                format!("`{}` is not a known time zone ({e})", s.time_zone),
            )
        })?;
        Ok(Calendar {
            days,
            freezes,
            tz,
            tz_name: s.time_zone.clone(),
        })
    }

    /// The calendar day it is at `now` in the deploy's time zone.
    pub fn today(&self, now: Timestamp) -> Date {
        now.to_zoned(self.tz.clone()).date()
    }

    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// `Tue, Thu`.
    pub fn days_text(&self) -> String {
        self.days
            .iter()
            .map(|d| day_name(*d))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether a deploy of `kind` may run on `date`, with every reason it may not.
    pub fn check(&self, date: Date, kind: DeployKind) -> Verdict {
        let weekday = date.weekday();
        let mut blocking = Vec::new();
        let mut warnings = Vec::new();
        match weekday {
            Weekday::Saturday | Weekday::Sunday => blocking.push(Reason::Weekend(weekday)),
            Weekday::Friday => match kind {
                DeployKind::Full => blocking.push(Reason::Friday),
                DeployKind::Patch => warnings.push(Reason::Friday),
            },
            _ if kind == DeployKind::Full && !self.days.contains(&weekday) => {
                blocking.push(Reason::NotADeployDay(weekday));
            }
            _ => {}
        }
        if let Some(h) = holiday_on(date) {
            blocking.push(Reason::Holiday(h));
        }
        for w in self.freezes.iter().filter(|w| w.contains(date)) {
            match kind {
                DeployKind::Full => blocking.push(Reason::Freeze(w.clone())),
                DeployKind::Patch => warnings.push(Reason::Freeze(w.clone())),
            }
        }
        if !blocking.is_empty() {
            Verdict::OffCycle { reasons: blocking }
        } else if !warnings.is_empty() {
            Verdict::Warn { warnings }
        } else {
            Verdict::Allowed
        }
    }

    /// The first day from `from` on (itself included) that allows a full deploy; `None` when the
    /// next two years have none (every day frozen).
    pub fn next_allowed(&self, from: Date) -> Option<Date> {
        (0..=LOOKAHEAD_DAYS)
            .filter_map(|n| from.checked_add(n.days()).ok())
            .find(|d| self.check(*d, DeployKind::Full) == Verdict::Allowed)
    }

    /// One line for a plan: whether today allows a full deploy and, if not, the next day that does.
    pub fn plan_note(&self, now: Timestamp) -> String {
        let today = self.today(now);
        let rules = format!("{} in {}", self.days_text(), self.tz_name);
        match self.check(today, DeployKind::Full) {
            Verdict::Allowed | Verdict::Warn { .. } => format!(
                "deploy calendar: today ({}) is a full-deploy day ({rules})",
                show_date(today)
            ),
            Verdict::OffCycle { reasons } => {
                let why = reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                match self.next_allowed(today) {
                    Some(next) => format!(
                        "deploy calendar: next full-deploy day {} (today, {}, is not: {why}; {rules})",
                        show_date(next),
                        show_date(today)
                    ),
                    None => format!(
                        "deploy calendar: no full-deploy day in the next two years (check deploy.days and deploy.freeze); today: {why}"
                    ),
                }
            }
        }
    }
}

/// The plan note `cut-rc` shows: the settings' calendar at `now`. A bad calendar setting is a
/// preflight error.
pub fn plan_note(settings: &DeploySettings, now: Timestamp) -> anyhow::Result<String> {
    Ok(Calendar::from_settings(settings)?.plan_note(now))
}

#[cfg(test)]
mod tests;
