//! The web clickstream of seed document 004: `raw_events_validated`, and the answer key of its
//! marts (sessions with a 30-minute inactivity window, deduplicated orders, first- and
//! last-click attribution with a 7-day lookback).
//!
//! The awkward cases are there on purpose: the historical `client_id` -> `"clientId"` rename,
//! events with no user id, duplicate transaction ids with conflicting revenue, gaps of exactly
//! 30 minutes (same session) and 31 minutes (new session), touches exactly 7 days before an
//! order, visits around midnight UTC, sessions without UTMs, direct visits.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::csv::{self, cents};

/// Minutes since 2025-01-01 00:00 UTC.
type Minute = i64;

/// A raw event as generated.
#[derive(Debug, Clone)]
struct Event {
    user_id: Option<String>,
    ts: Minute,
    name: &'static str,
    page_url: String,
    referrer: Option<&'static str>,
    user_agent: &'static str,
    utm: Option<Utm>,
    purchase: Option<(String, i64)>,
}

/// `(utm_source, utm_medium, utm_campaign)` of a landing URL.
type Utm = (&'static str, &'static str, &'static str);

/// How a visit starts: UTMs, a referrer, or nothing (direct).
const ENTRIES: &[(Option<Utm>, Option<&str>)] = &[
    (Some(("google", "cpc", "brand_search")), None),
    (
        Some(("google", "cpc", "generic_search")),
        Some("https://www.google.com/"),
    ),
    (
        Some(("facebook", "paid_social", "spring_sale")),
        Some("https://m.facebook.com/"),
    ),
    (Some(("instagram", "paid_social", "spring_sale")), None),
    (Some(("newsletter", "email", "weekly_digest")), None),
    (Some(("partner_site", "affiliate", "partner_q1")), None),
    (None, Some("https://www.google.com/search")),
    (None, Some("https://www.bing.com/")),
    (None, Some("https://t.co/xyz")),
    (None, Some("https://www.facebook.com/groups/deals")),
    (None, Some("https://blog.example.org/review")),
    (None, None),
    (None, None),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
    "",
];

/// The day `clientId` replaced `client_id` in the tracking payload.
const RENAME_DAY: i64 = 15;

/// The channel of a session's first event, as the `channel_grouping` macro computes it.
fn channel(utm: Option<(&str, &str, &str)>, referrer: Option<&str>) -> &'static str {
    if let Some((source, medium, _)) = utm {
        return match medium {
            "cpc" | "ppc" | "paid_search" => "Paid Search",
            "paid_social" | "cpm" => "Paid Social",
            "email" => "Email",
            _ if matches!(source, "facebook" | "instagram" | "tiktok") => "Paid Social",
            _ => "Other Paid",
        };
    }
    match referrer {
        Some(r)
            if ["google.", "bing.", "duckduckgo.", "yahoo."]
                .iter()
                .any(|s| r.contains(s)) =>
        {
            "Organic Search"
        }
        Some(r)
            if [
                "facebook.",
                "instagram.",
                "t.co/",
                "twitter.",
                "tiktok.",
                "linkedin.",
            ]
            .iter()
            .any(|s| r.contains(s)) =>
        {
            "Social"
        }
        Some(r) if !r.is_empty() => "Referral",
        _ => "Direct",
    }
}

fn generate(scale: u32, seed: u64) -> Vec<Event> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut events = Vec::new();
    let mut transaction = 0;
    let users = 300 * scale as usize;
    for user in 0..users {
        let user_id = format!("u{user:05}");
        let agent = USER_AGENTS[rng.usize(..USER_AGENTS.len())];
        let visits = rng.usize(1..7);
        let mut visit_start = rng.i64(0..28 * 1440);
        for _ in 0..visits {
            let (utm, referrer) = ENTRIES[rng.usize(..ENTRIES.len())];
            let steps = rng.usize(1..8);
            let mut ts = visit_start;
            for step in 0..steps {
                let name = match step {
                    0 => "page_view",
                    _ if step == steps - 1 && steps >= 4 => "purchase",
                    _ if step == steps - 2 && steps >= 4 => "checkout_started",
                    _ if step % 3 == 2 => "add_to_cart",
                    _ => "page_view",
                };
                let first = step == 0;
                let mut page_url = format!("https://shop.example.com/p/{}", rng.u32(1..50));
                if let (true, Some((source, medium, campaign))) = (first, utm) {
                    write!(
                        page_url,
                        "?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
                    )
                    .unwrap_or(());
                }
                let purchase = (name == "purchase").then(|| {
                    transaction += 1;
                    (format!("T{transaction:06}"), rng.i64(999..25_000))
                });
                events.push(Event {
                    user_id: Some(user_id.clone()),
                    ts,
                    name,
                    page_url,
                    referrer: if first {
                        referrer
                    } else {
                        Some("https://shop.example.com/")
                    },
                    user_agent: agent,
                    utm: if first { utm } else { None },
                    purchase: purchase.clone(),
                });
                // A duplicate of some orders, with a conflicting revenue, a minute later.
                if let Some((id, revenue)) = purchase
                    && rng.u8(..10) == 0
                {
                    events.push(Event {
                        user_id: Some(user_id.clone()),
                        ts: ts + 1,
                        name: "checkout_completed",
                        page_url: "https://shop.example.com/thank-you".to_owned(),
                        referrer: Some("https://shop.example.com/"),
                        user_agent: agent,
                        utm: None,
                        purchase: Some((id, revenue + rng.i64(-500..500))),
                    });
                    ts += 1;
                }
                // Mostly a few minutes apart; sometimes exactly 30 (still the same visit).
                ts += if rng.u8(..12) == 0 {
                    30
                } else {
                    rng.i64(1..10)
                };
            }
            // The next visit: 31 minutes later (a new session by one minute), exactly 7 days
            // later, or a few hours to days later.
            visit_start = ts
                + match rng.u8(..10) {
                    0 => 31,
                    1 => 7 * 1440,
                    _ => rng.i64(60..5 * 1440),
                };
        }
    }
    // Events with no user id cannot be sessionized; staging drops them.
    for i in 0..(20 * scale as i64) {
        events.push(Event {
            user_id: None,
            ts: i * 97,
            name: "page_view",
            page_url: "https://shop.example.com/".to_owned(),
            referrer: None,
            user_agent: USER_AGENTS[0],
            utm: None,
            purchase: None,
        });
    }
    events.sort_by(|a, b| (a.ts, &a.user_id).cmp(&(b.ts, &b.user_id)));
    events
}

fn events_csv(events: &[Event]) -> String {
    let mut out = csv::Table::new(&[
        "client_id",
        "clientId",
        "timestamp",
        "event_name",
        "page_url",
        "referrer",
        "user_agent",
        "event_data",
    ]);
    for event in events {
        let renamed = event.ts >= RENAME_DAY * 1440;
        let user = event.user_id.clone().unwrap_or_default();
        let (client_id, client_id_new) = if renamed {
            (String::new(), user)
        } else {
            (user, String::new())
        };
        let mut data = serde_json::Map::new();
        if let Some((source, medium, campaign)) = event.utm {
            data.insert("utm_source".into(), source.into());
            data.insert("utm_medium".into(), medium.into());
            data.insert("utm_campaign".into(), campaign.into());
        }
        if let Some((id, revenue)) = &event.purchase {
            data.insert("transaction_id".into(), id.clone().into());
            data.insert("revenue".into(), serde_json::Value::String(cents(*revenue)));
        }
        let fields = [
            client_id,
            client_id_new,
            csv::timestamp(event.ts * 60),
            event.name.to_owned(),
            event.page_url.clone(),
            event.referrer.unwrap_or("").to_owned(),
            event.user_agent.to_owned(),
            serde_json::Value::Object(data).to_string(),
        ];
        out.row(&fields);
    }
    out.into_string()
}

/// A session as the marts define it.
struct Session {
    id: String,
    user: String,
    start: Minute,
    channel: &'static str,
}

/// The headline figures of every web mart, computed from the events.
fn answer_key(events: &[Event]) -> BTreeMap<String, String> {
    let mut key = BTreeMap::new();
    let with_user: Vec<&Event> = events.iter().filter(|e| e.user_id.is_some()).collect();
    let mut by_user: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in &with_user {
        by_user
            .entry(event.user_id.as_deref().unwrap_or_default())
            .or_default()
            .push(event);
    }
    let mut sessions = Vec::new();
    for (user, events) in &mut by_user {
        events.sort_by_key(|e| e.ts);
        let mut seq = 0;
        let mut previous: Option<Minute> = None;
        for event in events.iter() {
            if previous.is_none_or(|p| event.ts - p > 30) {
                seq += 1;
                sessions.push(Session {
                    id: format!("{user}-{seq}"),
                    user: (*user).to_owned(),
                    start: event.ts,
                    channel: channel(event.utm, event.referrer),
                });
            }
            previous = Some(event.ts);
        }
    }
    // Orders: one per transaction id; latest timestamp, highest revenue, greatest user id.
    let mut orders: BTreeMap<&str, (String, Minute, i64)> = BTreeMap::new();
    for event in &with_user {
        let Some((id, revenue)) = &event.purchase else {
            continue;
        };
        let user = event.user_id.clone().unwrap_or_default();
        let entry = orders
            .entry(id)
            .or_insert((user.clone(), event.ts, *revenue));
        entry.0 = entry.0.clone().max(user);
        entry.1 = entry.1.max(event.ts);
        entry.2 = entry.2.max(*revenue);
    }
    let touches: Vec<&Session> = sessions.iter().filter(|s| s.channel != "Direct").collect();
    let mut set = |k: &str, v: String| {
        key.insert(k.to_owned(), v);
    };
    set("web.events", with_user.len().to_string());
    set("web.users", by_user.len().to_string());
    set("web.sessions", sessions.len().to_string());
    set("web.orders", orders.len().to_string());
    set(
        "web.order_revenue",
        cents(orders.values().map(|o| o.2).sum()),
    );
    set("web.marketing_touches", touches.len().to_string());
    let channels: BTreeSet<&str> = sessions.iter().map(|s| s.channel).collect();
    for channel in &channels {
        set(
            &format!("web.sessions.{channel}"),
            sessions
                .iter()
                .filter(|s| s.channel == *channel)
                .count()
                .to_string(),
        );
    }
    for (model, last) in [("first_click", false), ("last_click", true)] {
        let mut attributed = 0;
        let mut by_channel: BTreeMap<&str, i64> = BTreeMap::new();
        for (user, order_ts, revenue) in orders.values() {
            let eligible = touches.iter().filter(|t| {
                &t.user == user && t.start >= order_ts - 7 * 1440 && t.start <= *order_ts
            });
            let chosen = if last {
                eligible.max_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)))
            } else {
                eligible.min_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)))
            };
            if let Some(touch) = chosen {
                attributed += 1;
                *by_channel.entry(touch.channel).or_default() += revenue;
            }
        }
        set(
            &format!("web.attributed_orders.{model}"),
            attributed.to_string(),
        );
        for (channel, revenue) in by_channel {
            set(
                &format!("web.attributed_revenue.{model}.{channel}"),
                cents(revenue),
            );
        }
    }
    key
}

/// The files of the web clickstream: `raw_web/raw_events_validated.csv` and
/// `answer_key/answer_key_web.csv`, and a summary line.
pub fn files(scale: u32, seed: u64) -> (Vec<(String, String)>, String) {
    let events = generate(scale, seed);
    let key = answer_key(&events);
    let summary = format!("web: {} events, {} figures", events.len(), key.len());
    let files = vec![
        (
            "raw_web/raw_events_validated.csv".to_owned(),
            events_csv(&events),
        ),
        csv::answer_key_file("answer_key_web", &key),
    ];
    (files, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = events_csv(&generate(1, 7));
        let b = events_csv(&generate(1, 7));
        assert_eq!(a, b);
        assert_ne!(a, events_csv(&generate(1, 8)));
    }

    #[test]
    fn channels_follow_utms_then_referrers() {
        assert_eq!(
            channel(
                Some(("google", "cpc", "x")),
                Some("https://www.facebook.com/")
            ),
            "Paid Search"
        );
        assert_eq!(channel(Some(("tiktok", "video", "x")), None), "Paid Social");
        assert_eq!(
            channel(Some(("partner", "affiliate", "x")), None),
            "Other Paid"
        );
        assert_eq!(
            channel(None, Some("https://www.bing.com/")),
            "Organic Search"
        );
        assert_eq!(channel(None, Some("https://t.co/abc")), "Social");
        assert_eq!(channel(None, Some("https://blog.example.org/")), "Referral");
        assert_eq!(channel(None, None), "Direct");
    }

    #[test]
    fn sessions_split_after_thirty_minutes_of_silence() {
        let event = |ts| Event {
            user_id: Some("u1".to_owned()),
            ts,
            name: "page_view",
            page_url: String::new(),
            referrer: None,
            user_agent: "",
            utm: None,
            purchase: None,
        };
        let key = answer_key(&[event(0), event(30), event(61), event(62)]);
        assert_eq!(
            key["web.sessions"], "2",
            "a 30-minute gap stays in the session, 31 starts a new one"
        );
    }
}
