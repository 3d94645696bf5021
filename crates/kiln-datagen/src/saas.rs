//! The SaaS product of seed document 003: users, events and subscriptions over the 24 months of
//! 2023 and 2024, and the answer key of its marts (funnel per signup cohort, engagement per
//! cohort and month, user health).
//!
//! The awkward cases are there on purpose: activations 8 to 12 days after signup (past the
//! 7-day window, so not activated), payments months after signup (they change an old cohort's
//! funnel), users without a visit event, e-mails in mixed case, users without UTMs, events at
//! midnight UTC.

use std::collections::{BTreeMap, BTreeSet};

use crate::csv::{self, Table, ratio};
use crate::pick;

const DAY: i64 = 86_400;
/// 2023-01-01 to 2024-12-31.
pub const DAYS: i64 = 731;
/// Days are counted from 2023-01-01; the CSV helpers count seconds from 2025-01-01.
const FIRST_DAY: i64 = -DAYS;

const FEATURES: &[&str] = &[
    "dashboard",
    "reports",
    "integrations",
    "api",
    "mobile_app",
    "export",
];
const SOURCES: &[(Option<(&str, &str)>, u32)] = &[
    (Some(("google", "search_brand")), 30),
    (Some(("facebook", "lookalike_q1")), 20),
    (Some(("linkedin", "b2b_decision_makers")), 15),
    (Some(("newsletter", "product_updates")), 10),
    (None, 25),
];
/// The business rules of project.yml's `vars`: an activation counts within this many days of
/// signup; a user idle for longer than AT_RISK_DAYS is at risk; a Starter user with
/// UPSELL_FEATURES features and UPSELL_ACTIVE_DAYS active days is an upsell candidate.
pub const ACTIVATION_DAYS: i64 = 7;
const AT_RISK_DAYS: i64 = 30;
const UPSELL_FEATURES: usize = 4;
const UPSELL_ACTIVE_DAYS: usize = 20;

/// An event as generated; `day` counts from 2023-01-01.
struct Event {
    user: usize,
    kind: &'static str,
    day: i64,
    second: i64,
    feature: Option<&'static str>,
}

struct User {
    id: String,
    signup_day: i64,
    plan: Option<&'static str>,
}

struct Data {
    users: Vec<User>,
    events: Vec<Event>,
    tables: Vec<(String, String)>,
}

fn seconds(day: i64, second: i64) -> i64 {
    (FIRST_DAY + day) * DAY + second
}

/// `YYYY-MM` of a day.
fn month(day: i64) -> String {
    csv::date(seconds(day, 0))[..7].to_owned()
}

/// A time of day; one event in fifty at the very start or end of the UTC day.
fn second_of_day(rng: &mut fastrand::Rng) -> i64 {
    match rng.u8(..100) {
        0 => 0,
        1 => DAY - 1,
        _ => rng.i64(6 * 3600..23 * 3600),
    }
}

fn generate(scale: u32, seed: u64) -> Data {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5aa5);
    let n_users = 1_000 * scale as usize;
    let mut users = Vec::with_capacity(n_users);
    let mut events = Vec::new();
    let mut users_csv = Table::new(&[
        "user_id",
        "signup_date",
        "email",
        "utm_source",
        "utm_campaign",
        "first_visit_date",
    ]);
    let mut subscriptions_csv = Table::new(&[
        "subscription_id",
        "user_id",
        "plan_name",
        "start_date",
        "end_date",
        "mrr",
        "status",
    ]);
    let mut subscriptions = 0;
    for index in 0..n_users {
        let id = format!("usr_{index:07}");
        // Signups grow over the two years.
        let signup_day = (rng.f64().sqrt() * DAYS as f64) as i64;
        let first_visit_day = (signup_day - rng.i64(0..14)).max(0);
        let source = pick(&mut rng, SOURCES);
        let email = if rng.u8(..10) == 0 {
            format!("User.{index}@Example.COM")
        } else {
            format!("user.{index}@example.com")
        };
        users_csv.row(&[
            id.clone(),
            csv::date(seconds(signup_day, 0)),
            email,
            source.map_or(String::new(), |s| s.0.to_owned()),
            source.map_or(String::new(), |s| s.1.to_owned()),
            csv::date(seconds(first_visit_day, 0)),
        ]);
        let mut push = |kind, day: i64, feature, rng: &mut fastrand::Rng| {
            if day < DAYS {
                events.push(Event {
                    user: index,
                    kind,
                    day,
                    second: second_of_day(rng),
                    feature,
                });
            }
        };
        if rng.u8(..20) != 0 {
            push("visit", first_visit_day, None, &mut rng);
        }
        push("signup", signup_day, None, &mut rng);
        let activated = match rng.u8(..100) {
            0..70 => Some(signup_day + rng.i64(0..=ACTIVATION_DAYS)),
            70..80 => Some(signup_day + rng.i64(ACTIVATION_DAYS + 1..13)),
            _ => None,
        };
        let mut plan = None;
        if let Some(day) = activated {
            push("activated", day, None, &mut rng);
            let roll = rng.u8(..100);
            let paid_day = match roll {
                0..19 => Some(day + rng.i64(1..30)),
                19..22 => Some(day + rng.i64(30..150)),
                _ => None,
            };
            let starts = paid_day
                .filter(|d| *d < DAYS)
                .map(|d| (d, true))
                .or_else(|| (roll >= 95 && day < DAYS).then_some((day, false)));
            if let Some(paid) = paid_day {
                push("paid", paid, None, &mut rng);
            }
            if let Some((start, paying)) = starts {
                let chosen = if paying {
                    pick(
                        &mut rng,
                        &[
                            (("Starter", 29), 60),
                            (("Pro", 99), 30),
                            (("Enterprise", 499), 10),
                        ],
                    )
                } else {
                    ("Starter", 0)
                };
                let cancelled = paying && rng.u8(..5) == 0;
                let end = if cancelled {
                    Some((start + rng.i64(30..200)).min(DAYS - 1))
                } else {
                    None
                };
                let status = match (paying, cancelled) {
                    (false, _) => "trial",
                    (true, true) => "cancelled",
                    (true, false) => "active",
                };
                if status != "cancelled" {
                    plan = Some(chosen.0);
                }
                subscriptions += 1;
                subscriptions_csv.row(&[
                    format!("sub_{subscriptions:07}"),
                    id.clone(),
                    chosen.0.to_owned(),
                    csv::date(seconds(start, 0)),
                    end.map_or(String::new(), |d| csv::date(seconds(d, 0))),
                    format!("{}.00", chosen.1),
                    status.to_owned(),
                ]);
            }
        }
        // Product usage: most users a few days, one in seven a power user.
        let power = rng.u8(..7) == 0;
        let active_days = if power {
            rng.usize(20..60)
        } else {
            rng.usize(0..8)
        };
        let horizon = if power { 240 } else { 90 };
        let preferred: Vec<&str> = {
            let mut features = FEATURES.to_vec();
            rng.shuffle(&mut features);
            features.truncate(if power {
                rng.usize(3..=6)
            } else {
                rng.usize(1..4)
            });
            features
        };
        let days: BTreeSet<i64> = (0..active_days)
            .map(|_| signup_day + rng.i64(0..horizon))
            .collect();
        for day in days {
            push("daily_active", day, None, &mut rng);
            for _ in 0..rng.usize(0..3) {
                let feature = preferred[rng.usize(..preferred.len())];
                push("feature_used", day, Some(feature), &mut rng);
            }
        }
        users.push(User {
            id,
            signup_day,
            plan,
        });
    }
    events.sort_by_key(|e| (e.day, e.second, e.user));
    let mut events_csv = Table::new(&[
        "event_id",
        "user_id",
        "event_type",
        "event_date",
        "event_timestamp",
        "feature_name",
    ]);
    for (n, event) in events.iter().enumerate() {
        events_csv.row(&[
            format!("evt_{n:09}"),
            users[event.user].id.clone(),
            event.kind.to_owned(),
            csv::date(seconds(event.day, 0)),
            csv::timestamp(seconds(event.day, event.second)),
            event.feature.unwrap_or("").to_owned(),
        ]);
    }
    let tables = vec![
        (
            "raw_saas/saas_users.csv".to_owned(),
            users_csv.into_string(),
        ),
        (
            "raw_saas/saas_events.csv".to_owned(),
            events_csv.into_string(),
        ),
        (
            "raw_saas/saas_subscriptions.csv".to_owned(),
            subscriptions_csv.into_string(),
        ),
    ];
    Data {
        users,
        events,
        tables,
    }
}

/// The headline figures of the SaaS marts, computed from the generated rows.
fn answer_key(data: &Data) -> BTreeMap<String, String> {
    let mut key = BTreeMap::new();
    let mut set = |k: String, v: String| {
        key.insert(k, v);
    };
    set("saas.users".into(), data.users.len().to_string());
    set("saas.events".into(), data.events.len().to_string());

    // The funnel per signup cohort. The stages are nested: a signup implies a visit (the
    // tracker missed some), an activation counts within ACTIVATION_DAYS of a signup, and a
    // payment counts for an activated user; so no stage exceeds the one before.
    let mut reached: BTreeMap<usize, [bool; 4]> = BTreeMap::new();
    for event in &data.events {
        let user = &data.users[event.user];
        let flags = reached.entry(event.user).or_default();
        match event.kind {
            "visit" => flags[0] = true,
            "signup" => flags[1] = true,
            "activated" if event.day - user.signup_day <= ACTIVATION_DAYS => flags[2] = true,
            "paid" => flags[3] = true,
            _ => {}
        }
    }
    let mut funnel: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for (user, flags) in reached {
        let nested = [
            flags[0] || flags[1],
            flags[1],
            flags[1] && flags[2],
            flags[1] && flags[2] && flags[3],
        ];
        let counts = funnel
            .entry(month(data.users[user].signup_day))
            .or_default();
        for (count, reached) in counts.iter_mut().zip(nested) {
            *count += usize::from(reached);
        }
    }
    let stages = ["visitors", "signups", "activated", "paid"];
    let mut totals = [0; 4];
    for (cohort, users) in &funnel {
        for (i, stage) in stages.iter().enumerate() {
            set(
                format!("saas.funnel.{cohort}.{stage}"),
                users[i].to_string(),
            );
            totals[i] += users[i];
        }
    }
    for (i, stage) in stages.iter().enumerate() {
        set(format!("saas.funnel.{stage}"), totals[i].to_string());
    }
    set(
        "saas.funnel.activation_to_paid_rate".into(),
        ratio(100 * totals[3] as i128, totals[2] as i128, 2).unwrap_or_default(),
    );

    // Engagement: users active (any event) per cohort and calendar month, from the signup
    // month on (a visit the month before signing up is not retention).
    let engaged: Vec<&Event> = data
        .events
        .iter()
        .filter(|e| month(e.day) >= month(data.users[e.user].signup_day))
        .collect();
    let mut active: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
    for event in &engaged {
        let cohort = month(data.users[event.user].signup_day);
        active
            .entry((cohort, month(event.day)))
            .or_default()
            .insert(event.user);
    }
    set("saas.engagement.rows".into(), active.len().to_string());
    set(
        "saas.engagement.active_user_months".into(),
        active
            .values()
            .map(BTreeSet::len)
            .sum::<usize>()
            .to_string(),
    );
    let mut cohort_sizes: BTreeMap<String, usize> = BTreeMap::new();
    for user in &data.users {
        *cohort_sizes.entry(month(user.signup_day)).or_default() += 1;
    }
    let month_zero: usize = active
        .keys()
        .filter(|(cohort, activity)| cohort == activity)
        .map(|(cohort, _)| cohort_sizes[cohort])
        .sum();
    set(
        "saas.engagement.cohort_size_month_zero".into(),
        month_zero.to_string(),
    );

    // Feature adoption and user health.
    let mut feature_users: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    let mut user_features: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    let mut user_days: BTreeMap<usize, BTreeSet<i64>> = BTreeMap::new();
    for event in &data.events {
        if let Some(feature) = event.feature {
            feature_users.entry(feature).or_default().insert(event.user);
            user_features.entry(event.user).or_default().insert(feature);
        }
    }
    for event in &engaged {
        user_days.entry(event.user).or_default().insert(event.day);
    }
    for (feature, users) in feature_users {
        set(
            format!("saas.feature_users.{feature}"),
            users.len().to_string(),
        );
    }
    let last_day = engaged.iter().map(|e| e.day).max().unwrap_or(0);
    let (mut upsell, mut at_risk) = (0, 0);
    for (index, user) in data.users.iter().enumerate() {
        let days = user_days.get(&index);
        let active_days = days.map_or(0, BTreeSet::len);
        let features = user_features.get(&index).map_or(0, BTreeSet::len);
        if user.plan == Some("Starter")
            && features >= UPSELL_FEATURES
            && active_days >= UPSELL_ACTIVE_DAYS
        {
            upsell += 1;
        }
        let last_active = days.and_then(|d| d.last().copied());
        if last_active.is_none_or(|d| last_day - d > AT_RISK_DAYS) {
            at_risk += 1;
        }
    }
    set("saas.health.upsell_candidates".into(), upsell.to_string());
    set("saas.health.at_risk".into(), at_risk.to_string());
    key
}

/// The files of the SaaS product and its answer key, and a summary line.
pub fn files(scale: u32, seed: u64) -> (Vec<(String, String)>, String) {
    let mut data = generate(scale, seed);
    let key = answer_key(&data);
    let summary = format!(
        "saas: {} users, {} events, {} figures",
        data.users.len(),
        data.events.len(),
        key.len()
    );
    let mut files = std::mem::take(&mut data.tables);
    files.push(csv::answer_key_file("answer_key_saas", &key));
    (files, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        assert_eq!(generate(1, 3).tables, generate(1, 3).tables);
        assert_ne!(generate(1, 3).tables, generate(1, 4).tables);
    }

    #[test]
    fn late_activations_are_not_activations() {
        let data = generate(1, 42);
        let late = data.events.iter().any(|e| {
            e.kind == "activated" && e.day - data.users[e.user].signup_day > ACTIVATION_DAYS
        });
        assert!(late, "the generator writes activations past the window");
        let key = answer_key(&data);
        let activated: usize = key["saas.funnel.activated"].parse().unwrap_or(0);
        let events = data.events.iter().filter(|e| e.kind == "activated").count();
        assert!(activated < events);
    }

    #[test]
    fn the_data_spans_24_cohort_months() {
        let key = answer_key(&generate(1, 42));
        assert!(key.contains_key("saas.funnel.2023-01.signups"));
        assert!(key.contains_key("saas.funnel.2024-12.signups"));
        assert!(!key.contains_key("saas.funnel.2025-01.signups"));
        assert_ne!(key["saas.health.upsell_candidates"], "0");
    }
}
