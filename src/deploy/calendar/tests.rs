use super::*;
use jiff::civil::date;

fn settings(days: &[&str], freeze: &[&str], tz: &str) -> DeploySettings {
    DeploySettings {
        days: days.iter().map(|s| s.to_string()).collect(),
        freeze: freeze.iter().map(|s| s.to_string()).collect(),
        time_zone: tz.to_string(),
        soak: crate::types::HumanDuration::secs(3600),
        record_ref: "refs/login-release/deploys/{env}".into(),
        checks: Vec::new(),
    }
}

fn default_calendar() -> Calendar {
    let d = crate::config::Config::defaults().settings.deploy;
    Calendar::from_settings(&d).unwrap()
}

/// The days off OPM publishes (opm.gov, "Federal Holidays"), written out by hand from the
/// published tables for 2024 to 2028, not computed: the rules above must reproduce them.
const OPM: &[(i16, &[&str])] = &[
    (
        2024,
        &[
            "2024-01-01",
            "2024-01-15",
            "2024-02-19",
            "2024-05-27",
            "2024-06-19",
            "2024-07-04",
            "2024-09-02",
            "2024-10-14",
            "2024-11-11",
            "2024-11-28",
            "2024-12-25",
        ],
    ),
    (
        2025,
        &[
            "2025-01-01",
            "2025-01-20",
            "2025-02-17",
            "2025-05-26",
            "2025-06-19",
            "2025-07-04",
            "2025-09-01",
            "2025-10-13",
            "2025-11-11",
            "2025-11-27",
            "2025-12-25",
        ],
    ),
    // July 4 is a Saturday: observed Friday July 3.
    (
        2026,
        &[
            "2026-01-01",
            "2026-01-19",
            "2026-02-16",
            "2026-05-25",
            "2026-06-19",
            "2026-07-03",
            "2026-09-07",
            "2026-10-12",
            "2026-11-11",
            "2026-11-26",
            "2026-12-25",
        ],
    ),
    // Juneteenth and Christmas on Saturdays, July 4 on a Sunday; New Year's Day 2028 is a
    // Saturday, observed Friday December 31, 2027.
    (
        2027,
        &[
            "2027-01-01",
            "2027-01-18",
            "2027-02-15",
            "2027-05-31",
            "2027-06-18",
            "2027-07-05",
            "2027-09-06",
            "2027-10-11",
            "2027-11-11",
            "2027-11-25",
            "2027-12-24",
            "2027-12-31",
        ],
    ),
    // Veterans Day is a Saturday: observed Friday November 10. (New Year's Day was observed in 2027.)
    (
        2028,
        &[
            "2028-01-17",
            "2028-02-21",
            "2028-05-29",
            "2028-06-19",
            "2028-07-04",
            "2028-09-04",
            "2028-10-09",
            "2028-11-10",
            "2028-11-23",
            "2028-12-25",
        ],
    ),
];

#[test]
fn federal_holidays_match_opm_2024_to_2028() {
    for (year, want) in OPM {
        let got: Vec<String> = holidays_observed_in(*year)
            .iter()
            .map(|h| h.observed.to_string())
            .collect();
        assert_eq!(got, *want, "observed holidays of {year}");
    }
}

#[test]
fn known_observed_days() {
    let h = holiday_on(date(2026, 7, 3)).expect("observed Independence Day");
    assert_eq!(h.name, HolidayName::IndependenceDay);
    assert_eq!(h.date, date(2026, 7, 4));
    let h = holiday_on(date(2027, 12, 24)).expect("observed Christmas");
    assert_eq!(h.name, HolidayName::Christmas);
    let h = holiday_on(date(2021, 12, 31)).expect("New Year 2022 observed in 2021");
    assert_eq!(h.name, HolidayName::NewYearsDay);
    assert_eq!(h.date, date(2022, 1, 1));
    assert!(holidays_observed_in(2022)
        .iter()
        .all(|h| h.name != HolidayName::NewYearsDay));
    // The legal date itself is not the day off when it is moved.
    assert_eq!(holiday_on(date(2026, 7, 4)), None);
    assert_eq!(holiday_on(date(2026, 7, 2)), None);
    // Juneteenth only from 2021.
    assert_eq!(holiday_on(date(2020, 6, 19)), None);
    assert_eq!(
        holiday_on(date(2021, 6, 18)).map(|h| h.name),
        Some(HolidayName::Juneteenth)
    );
}

#[test]
fn every_year_has_its_holidays_on_weekdays() {
    for year in 1990..=2100 {
        for h in legal_holidays(year) {
            assert!(
                !matches!(h.observed.weekday(), Weekday::Saturday | Weekday::Sunday),
                "{h:?}"
            );
            assert!((h.observed - h.date).get_days().abs() <= 1, "{h:?}");
        }
    }
}

#[test]
fn full_deploys_follow_the_calendar() {
    let c = default_calendar();
    use Verdict::*;
    let table: &[(Date, bool, &str)] = &[
        (date(2026, 12, 1), true, "Tuesday"),
        (date(2026, 12, 3), true, "Thursday"),
        (date(2026, 11, 30), false, "Mon is not a deploy day"),
        (date(2026, 12, 2), false, "Wed is not a deploy day"),
        (date(2026, 12, 4), false, "Friday"),
        (date(2026, 12, 5), false, "Sat is a weekend day"),
        (date(2026, 12, 6), false, "Sun is a weekend day"),
        (
            date(2026, 11, 26),
            false,
            "federal holiday: Thanksgiving Day",
        ),
        (date(2025, 11, 11), false, "federal holiday: Veterans Day"),
        (
            date(2026, 12, 29),
            false,
            "inside the freeze window 12-25..01-01",
        ),
        (date(2027, 12, 28), false, "inside the freeze window"),
        (date(2026, 12, 22), true, "Tuesday before the freeze"),
        (date(2027, 1, 5), true, "first Tuesday after"),
    ];
    for (d, allowed, why) in table {
        let v = c.check(*d, DeployKind::Full);
        assert_eq!(v == Allowed, *allowed, "{d}: {v:?}");
        if let OffCycle { reasons } = &v {
            let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            assert!(text.iter().any(|t| t.contains(why)), "{d}: {text:?}");
        }
    }
    // Every reason is listed, not only the first.
    let OffCycle { reasons } = c.check(date(2025, 12, 25), DeployKind::Full) else {
        panic!("Christmas 2025 is a Thursday, and off-cycle")
    };
    assert_eq!(reasons.len(), 2, "{reasons:?}");
}

#[test]
fn patches_run_on_working_days_with_a_friday_warning() {
    let c = default_calendar();
    assert_eq!(
        c.check(date(2026, 12, 2), DeployKind::Patch),
        Verdict::Allowed
    );
    assert_eq!(
        c.check(date(2026, 12, 4), DeployKind::Patch),
        Verdict::Warn {
            warnings: vec![Reason::Friday]
        }
    );
    assert!(!c.check(date(2026, 12, 5), DeployKind::Patch).is_allowed());
    assert!(!c.check(date(2026, 7, 3), DeployKind::Patch).is_allowed());
    // A freeze does not stop an urgent fix, but it is said.
    let v = c.check(date(2026, 12, 29), DeployKind::Patch);
    assert!(v.is_allowed() && matches!(v, Verdict::Warn { .. }), "{v:?}");
}

#[test]
fn next_allowed_day() {
    let c = default_calendar();
    let table = [
        (date(2026, 12, 1), date(2026, 12, 1)), // a Tuesday is its own answer
        (date(2026, 12, 2), date(2026, 12, 3)), // Wed -> Thu
        (date(2026, 12, 4), date(2026, 12, 8)), // Fri -> Tue
        (date(2026, 11, 25), date(2026, 12, 1)), // Thanksgiving Thursday skipped
        (date(2026, 12, 23), date(2026, 12, 24)), // the freeze starts on the 25th
        (date(2026, 12, 25), date(2027, 1, 5)), // the freeze, then New Year
        (date(2027, 12, 22), date(2027, 12, 23)),
        (date(2027, 12, 24), date(2028, 1, 4)),
    ];
    for (from, want) in table {
        assert_eq!(c.next_allowed(from), Some(want), "from {from}");
    }
    let frozen = Calendar::from_settings(&settings(&["tue"], &["01-01..12-31"], "UTC")).unwrap();
    assert_eq!(frozen.next_allowed(date(2026, 1, 1)), None);
}

#[test]
fn days_are_judged_in_the_deploy_time_zone() {
    let c = default_calendar();
    // 01:00 UTC on Wednesday is still Tuesday evening in New York.
    let now: Timestamp = "2026-12-02T01:00:00Z".parse().unwrap();
    assert_eq!(c.today(now), date(2026, 12, 1));
    assert!(c
        .plan_note(now)
        .contains("today (Tue 2026-12-01) is a full-deploy day"));
    let utc = Calendar::from_settings(&settings(&["tue", "thu"], &[], "UTC")).unwrap();
    assert_eq!(utc.today(now), date(2026, 12, 2));
    let note = utc.plan_note(now);
    assert!(
        note.contains("next full-deploy day Thu 2026-12-03")
            && note.contains("Wed is not a deploy day"),
        "{note}"
    );
}

#[test]
fn the_bundled_tzdb_has_the_default_zone() {
    // Works where /usr/share/zoneinfo is missing (slim containers): the bundled copy is used.
    let tz = jiff::tz::TimeZoneDatabase::bundled()
        .get("America/New_York")
        .expect("bundled America/New_York");
    let summer: Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
    assert_eq!(summer.to_zoned(tz).offset().seconds(), -4 * 3600);
}

#[test]
fn freeze_windows_parse_and_match() {
    let w = FreezeWindow::parse("12-25..01-01").unwrap();
    assert!(w.contains(date(2026, 12, 25)) && w.contains(date(2027, 1, 1)));
    assert!(!w.contains(date(2026, 12, 24)) && !w.contains(date(2027, 1, 2)));
    let w = FreezeWindow::parse("2026-11-25 .. 2026-11-30").unwrap();
    assert!(w.contains(date(2026, 11, 30)) && !w.contains(date(2027, 11, 26)));
    assert_eq!(w.to_string(), "2026-11-25..2026-11-30");
    let w = FreezeWindow::parse("07-01..07-31").unwrap();
    assert!(w.contains(date(2026, 7, 15)) && !w.contains(date(2026, 8, 1)));
    for bad in [
        "12-25",
        "13-01..01-01",
        "02-30..03-01",
        "2026-12-01..2026-11-01",
        "x..y",
    ] {
        assert!(FreezeWindow::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_settings_are_preflight_errors_naming_the_key() {
    let cases = [
        (settings(&["fri"], &[], "UTC"), "deploy.days"),
        (settings(&["sunday"], &[], "UTC"), "deploy.days"),
        (settings(&["tue", "someday"], &[], "UTC"), "deploy.days"),
        (settings(&[], &[], "UTC"), "deploy.days"),
        (settings(&["tue"], &["12-25"], "UTC"), "deploy.freeze"),
        (
            settings(&["tue"], &[], "America/Nowhere"),
            "deploy.time_zone",
        ),
    ];
    for (s, key) in cases {
        let e = Calendar::from_settings(&s).unwrap_err();
        let r = crate::error::report(&e);
        assert_eq!(r.code, 3);
        assert!(r.message.contains(key), "{}", r.message);
        assert!(r.hint.is_some());
    }
    let c = Calendar::from_settings(&settings(&["Thursday", "mon", "thu"], &[], "UTC")).unwrap();
    assert_eq!(c.days_text(), "Mon, Thu");
}
