//! National public holidays for PublicHoliday, by rule (a fixed date, a
//! day from Easter, the nth weekday of a month), for the countries listed
//! in [`COUNTRIES`]. Kestra reads them from the Jollyday library; no Rust
//! crate keeps such calendars in a usable form (the ones published either
//! need the network at run time or hold a fixed range of years), so the
//! rules of the most used countries are written here, with the regional
//! holidays of Germany's states (`subDivision`, [`SUBDIVISIONS`]);
//! substitute days are not kept.

use jiff::civil::{Date, Weekday};

#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Month and day.
    Fixed(i8, i8),
    /// Month and day, from a year on.
    Since(i16, i8, i8),
    /// Days from Easter Sunday (Good Friday is -2).
    Easter(i16),
    /// The nth weekday of a month; -1 is the last.
    Nth(i8, Weekday, i8),
    /// The last given weekday on or before a month and day (Saxony's
    /// Repentance Day: the Wednesday before 23 November).
    OnOrBefore(i8, i8, Weekday),
}

use Rule::*;
use Weekday::{Monday, Thursday, Wednesday};

/// The countries with their rules, by ISO 3166-1 alpha-2 code.
pub const COUNTRIES: &[(&str, &[Rule])] = &[
    (
        "AT",
        &[
            Fixed(1, 1),
            Fixed(1, 6),
            Easter(1),
            Fixed(5, 1),
            Easter(39),
            Easter(50),
            Easter(60),
            Fixed(8, 15),
            Fixed(10, 26),
            Fixed(11, 1),
            Fixed(12, 8),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "BE",
        &[
            Fixed(1, 1),
            Easter(1),
            Fixed(5, 1),
            Easter(39),
            Easter(50),
            Fixed(7, 21),
            Fixed(8, 15),
            Fixed(11, 1),
            Fixed(11, 11),
            Fixed(12, 25),
        ],
    ),
    (
        "DE",
        &[
            Fixed(1, 1),
            Easter(-2),
            Easter(1),
            Fixed(5, 1),
            Easter(39),
            Easter(50),
            Fixed(10, 3),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "ES",
        &[
            Fixed(1, 1),
            Fixed(1, 6),
            Easter(-2),
            Fixed(5, 1),
            Fixed(8, 15),
            Fixed(10, 12),
            Fixed(11, 1),
            Fixed(12, 6),
            Fixed(12, 8),
            Fixed(12, 25),
        ],
    ),
    (
        "FR",
        &[
            Fixed(1, 1),
            Easter(1),
            Fixed(5, 1),
            Fixed(5, 8),
            Easter(39),
            Easter(50),
            Fixed(7, 14),
            Fixed(8, 15),
            Fixed(11, 1),
            Fixed(11, 11),
            Fixed(12, 25),
        ],
    ),
    (
        "GB",
        &[
            Fixed(1, 1),
            Easter(-2),
            Easter(1),
            Nth(5, Monday, 1),
            Nth(5, Monday, -1),
            Nth(8, Monday, -1),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "IE",
        &[
            Fixed(1, 1),
            Since(2023, 2, 1),
            Fixed(3, 17),
            Easter(1),
            Nth(5, Monday, 1),
            Nth(6, Monday, 1),
            Nth(8, Monday, 1),
            Nth(10, Monday, -1),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "IT",
        &[
            Fixed(1, 1),
            Fixed(1, 6),
            Easter(1),
            Fixed(4, 25),
            Fixed(5, 1),
            Fixed(6, 2),
            Fixed(8, 15),
            Fixed(11, 1),
            Fixed(12, 8),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "NL",
        &[
            Fixed(1, 1),
            Easter(1),
            Since(2014, 4, 27),
            Easter(39),
            Easter(50),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "PL",
        &[
            Fixed(1, 1),
            Fixed(1, 6),
            Easter(1),
            Fixed(5, 1),
            Fixed(5, 3),
            Easter(60),
            Fixed(8, 15),
            Fixed(11, 1),
            Fixed(11, 11),
            Since(2025, 12, 24),
            Fixed(12, 25),
            Fixed(12, 26),
        ],
    ),
    (
        "PT",
        &[
            Fixed(1, 1),
            Easter(-2),
            Fixed(4, 25),
            Fixed(5, 1),
            Easter(60),
            Fixed(6, 10),
            Fixed(8, 15),
            Fixed(10, 5),
            Fixed(11, 1),
            Fixed(12, 1),
            Fixed(12, 8),
            Fixed(12, 25),
        ],
    ),
    (
        "US",
        &[
            Fixed(1, 1),
            Nth(1, Monday, 3),
            Nth(2, Monday, 3),
            Nth(5, Monday, -1),
            Since(2021, 6, 19),
            Fixed(7, 4),
            Nth(9, Monday, 1),
            Nth(10, Monday, 2),
            Fixed(11, 11),
            Nth(11, Thursday, 4),
            Fixed(12, 25),
        ],
    ),
];

/// Regional holidays, added to their country's: (country, subdivision as
/// Jollyday names it, which is the ISO 3166-2 code after the dash, rules).
pub const SUBDIVISIONS: &[(&str, &str, &[Rule])] = &[
    ("DE", "BW", &[Fixed(1, 6), Easter(60), Fixed(11, 1)]),
    (
        "DE",
        "BY",
        &[Fixed(1, 6), Easter(60), Fixed(8, 15), Fixed(11, 1)],
    ),
    ("DE", "BE", &[Since(2019, 3, 8)]),
    ("DE", "BB", &[Easter(0), Easter(49), Fixed(10, 31)]),
    ("DE", "HB", &[Since(2018, 10, 31)]),
    ("DE", "HH", &[Since(2018, 10, 31)]),
    ("DE", "HE", &[Easter(60)]),
    ("DE", "MV", &[Since(2023, 3, 8), Fixed(10, 31)]),
    ("DE", "NI", &[Since(2018, 10, 31)]),
    ("DE", "NW", &[Easter(60), Fixed(11, 1)]),
    ("DE", "RP", &[Easter(60), Fixed(11, 1)]),
    ("DE", "SL", &[Easter(60), Fixed(8, 15), Fixed(11, 1)]),
    ("DE", "SN", &[Fixed(10, 31), OnOrBefore(11, 22, Wednesday)]),
    ("DE", "ST", &[Fixed(1, 6), Fixed(10, 31)]),
    ("DE", "SH", &[Since(2018, 10, 31)]),
    ("DE", "TH", &[Since(2019, 9, 20), Fixed(10, 31)]),
];

/// Easter Sunday of a year (the Gregorian computus).
fn easter(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let (a, b, c) = (y % 19, y / 100, y % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).ok()
}

fn nth(year: i16, month: i8, weekday: Weekday, n: i8) -> Option<Date> {
    // jiff counts from the month's end for a negative n.
    Date::new(year, month, 1)
        .ok()?
        .nth_weekday_of_month(n, weekday)
        .ok()
}

/// Whether `date` is a public holiday of `country` (and of its
/// `subdivision`, as Jollyday names it, `by`, or by ISO 3166-2, `DE-BY`);
/// an error names a country or subdivision Mortar has no calendar of.
pub fn is_holiday(country: &str, subdivision: Option<&str>, date: Date) -> Result<bool, String> {
    let wanted = country.trim().to_ascii_uppercase();
    let Some((_, rules)) = COUNTRIES.iter().find(|(code, _)| *code == wanted) else {
        let known: Vec<&str> = COUNTRIES.iter().map(|(code, _)| *code).collect();
        return Err(format!(
            "Mortar has no holiday calendar for the country {country:?} yet (it has {})",
            known.join(", ")
        ));
    };
    let regional: &[Rule] = match subdivision.map(str::trim).filter(|s| !s.is_empty()) {
        None => &[],
        Some(region) => {
            let upper = region.to_ascii_uppercase();
            let code = upper.strip_prefix(&format!("{wanted}-")).unwrap_or(&upper);
            let of_country: Vec<&(&str, &str, &[Rule])> = SUBDIVISIONS
                .iter()
                .filter(|(c, _, _)| *c == wanted)
                .collect();
            match of_country.iter().find(|(_, s, _)| *s == code) {
                Some((_, _, rules)) => rules,
                None if of_country.is_empty() => {
                    return Err(format!(
                        "subDivision {region:?}: Mortar knows the national holidays of {wanted} only, no regional calendar of it"
                    ));
                }
                None => {
                    let known: Vec<String> = of_country
                        .iter()
                        .map(|(c, s, _)| format!("{c}-{s}"))
                        .collect();
                    return Err(format!(
                        "subDivision {region:?} is not a subdivision of {wanted} Mortar knows (it knows {})",
                        known.join(", ")
                    ));
                }
            }
        }
    };
    let year = date.year();
    Ok(rules.iter().chain(regional).any(|rule| {
        let day = match *rule {
            Fixed(m, d) => Date::new(year, m, d).ok(),
            Since(from, m, d) => (year >= from).then(|| Date::new(year, m, d).ok()).flatten(),
            Easter(offset) => easter(year).and_then(|e| {
                e.checked_add(jiff::Span::new().days(i64::from(offset)))
                    .ok()
            }),
            Nth(m, w, n) => nth(year, m, w, n),
            OnOrBefore(m, d, w) => Date::new(year, m, d).ok().and_then(|day| {
                day.nth_weekday(-1, w).ok().map(
                    |before| {
                        if day.weekday() == w { day } else { before }
                    },
                )
            }),
        };
        day == Some(date)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(country: &str, date: &str) -> bool {
        is_holiday(country, None, date.parse().unwrap()).unwrap()
    }

    fn in_region(country: &str, region: &str, date: &str) -> bool {
        is_holiday(country, Some(region), date.parse().unwrap()).unwrap()
    }

    #[test]
    fn german_states_add_their_own_holidays() {
        // Corpus Christi 2026 is 4 June; Bavaria keeps it, Berlin does not.
        assert!(in_region("DE", "by", "2026-06-04"));
        assert!(in_region("DE", "DE-BY", "2026-06-04"));
        assert!(!in_region("DE", "BE", "2026-06-04"));
        assert!(!on("DE", "2026-06-04"), "not national");
        assert!(in_region("DE", "be", "2026-03-08"));
        assert!(!in_region("DE", "be", "2018-03-08"), "Berlin's from 2019");
        // Repentance Day, the Wednesday before 23 November: 18 Nov 2026,
        // 22 Nov 2028 (the 23rd is a Thursday).
        assert!(in_region("DE", "sn", "2026-11-18"));
        assert!(in_region("DE", "sn", "2028-11-22"));
        assert!(!in_region("DE", "sn", "2026-11-25"));
        // National holidays hold in every state.
        assert!(in_region("DE", "hh", "2026-10-03"));
        let unknown = is_holiday("DE", Some("XX"), "2026-01-01".parse().unwrap()).unwrap_err();
        assert!(unknown.contains("DE-BY"), "{unknown}");
        let none = is_holiday("FR", Some("FR-75"), "2026-01-01".parse().unwrap()).unwrap_err();
        assert!(none.contains("national holidays of FR only"), "{none}");
    }

    #[test]
    fn calendars_know_fixed_easter_and_weekday_holidays() {
        assert_eq!(easter(2026), Date::new(2026, 4, 5).ok());
        assert_eq!(easter(2025), Date::new(2025, 4, 20).ok());
        assert!(
            on("FR", "2026-07-14")
                && on("fr", "2026-04-06")
                && on("FR", "2026-05-14")
                && on("FR", "2026-05-25")
        );
        assert!(
            !on("FR", "2026-04-03"),
            "Good Friday is not a French holiday"
        );
        assert!(on("DE", "2026-04-03") && on("DE", "2026-10-03"));
        assert!(
            on("US", "2026-11-26")
                && on("US", "2026-05-25")
                && on("US", "2026-01-19")
                && on("US", "2026-06-19")
        );
        assert!(!on("US", "2020-06-19"), "Juneteenth from 2021");
        assert!(on("GB", "2026-08-31") && on("GB", "2026-05-04") && !on("GB", "2026-08-24"));
        assert!(!on("FR", "2026-12-02"));
        assert!(
            is_holiday("XX", None, "2026-01-01".parse().unwrap())
                .unwrap_err()
                .contains("\"XX\"")
        );
    }
}
