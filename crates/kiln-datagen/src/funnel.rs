//! The paid-acquisition sources of seed documents 000–002: FunnelFox (funnels, sessions,
//! subscriptions), Stripe (subscriptions, charges), Amplitude (events) and Facebook Ads
//! (campaigns, adsets, ads, daily statistics), and the answer key of the marts built on them.
//!
//! The linkage is the one document 000 discovered: a Stripe subscription carries the FunnelFox
//! session id in `metadata.ff_session_id`, the FunnelFox subscription points to it through
//! `psp_id` (and says whether it is a sandbox purchase), and the Stripe charges of that
//! subscription hold the money, in cents, in the charge's currency.
//!
//! The awkward cases are there on purpose: sessions without UTMs, an `ad_id` that matches no ad
//! (the campaign name still does), an unresolved `{{campaign.name}}` placeholder (only the ad
//! name matches), `fbclid` without UTMs, failed then retried charges, pending charges, sandbox
//! subscriptions, Stripe subscriptions with no session in their metadata, Amplitude events
//! without a session id or pointing to an unknown one, sessions and payments around midnight UTC.

use std::collections::{BTreeMap, BTreeSet};

use crate::csv::{self, Table, ratio};

mod amplitude;
mod facebook;
mod funnelfox;
mod stripe;

const DAY: i64 = 86_400;
/// Days of sessions.
const DAYS: i64 = 60;

/// `(currency, US dollars per unit in ten-thousandths)`; the seed `usd_exchange_rates` holds the
/// same rates.
pub const USD_RATES: &[(&str, i64)] = &[("usd", 10_000), ("eur", 10_800), ("gbp", 12_700)];

const CAMPAIGNS: &[(&str, &str)] = &[
    ("spring_sale_us", "OUTCOME_SALES"),
    ("retargeting_visitors", "OUTCOME_SALES"),
    ("quiz_awareness", "OUTCOME_AWARENESS"),
    ("lookalike_traffic", "OUTCOME_TRAFFIC"),
];
const ADSETS: &[&str] = &["broad", "lookalike_1pct"];
const CREATIVES: &[&str] = &["ugc_video", "carousel"];

const FUNNELS: &[Funnel] = &[
    Funnel {
        id: "fnl_sleep_quiz",
        title: "Sleep quiz",
        kind: "quiz",
        environment: "production",
        version: "v7",
    },
    Funnel {
        id: "fnl_stress_landing",
        title: "Stress relief landing",
        kind: "landing",
        environment: "production",
        version: "v3",
    },
    Funnel {
        id: "fnl_checkout_test",
        title: "Checkout experiment",
        kind: "checkout",
        environment: "staging",
        version: "v1",
    },
];

struct Funnel {
    id: &'static str,
    title: &'static str,
    kind: &'static str,
    environment: &'static str,
    version: &'static str,
}

const UA_FACEBOOK_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]";
const UA_FACEBOOK_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; SM-S911B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.35.109;]";
const UA_INSTAGRAM: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 312.0.0.22.114 (iPhone15,3; iOS 17_2; en_US; en; scale=3.00; 1290x2796; 548339486)";
const UA_TIKTOK: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 musical_ly_32.5.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/en Region/US TikTok";
const UA_SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const UA_CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
const UA_CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

const PLACES: &[(&str, Option<&str>)] = &[
    ("US", Some("New York")),
    ("US", Some("Austin")),
    ("US", None),
    ("GB", Some("London")),
    ("DE", Some("Berlin")),
    ("FR", Some("Paris")),
    ("CA", Some("Toronto")),
];

const FAILURE_CODES: &[&str] = &["card_declined", "insufficient_funds", "expired_card"];

/// The traffic source of a session, from its user agent (document 000's rule).
pub fn traffic_source(user_agent: &str) -> &'static str {
    if user_agent.contains("FBAN/FBIOS") || user_agent.contains("FB_IAB/FB4A") {
        "facebook"
    } else if user_agent.contains("Instagram") {
        "instagram"
    } else if user_agent.contains("TikTok") {
        "tiktok"
    } else {
        "organic"
    }
}

/// Where a session's link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A Facebook ad link with the ad's id: matches the ad.
    FacebookAd,
    /// An `ad_id` that matches no ad; the campaign name in utm_campaign does.
    FacebookUnknownAd,
    /// utm_campaign is an unresolved placeholder; utm_content holds the ad name.
    FacebookPlaceholder,
    /// `fbclid` only: a shared or organic Facebook link.
    FacebookClickOnly,
    GoogleAds,
    TikTokAds,
    Newsletter,
    /// No parameters at all.
    Direct,
}

const ENTRIES: &[(Entry, u32)] = &[
    (Entry::FacebookAd, 30),
    (Entry::FacebookUnknownAd, 6),
    (Entry::FacebookPlaceholder, 6),
    (Entry::FacebookClickOnly, 6),
    (Entry::GoogleAds, 14),
    (Entry::TikTokAds, 10),
    (Entry::Newsletter, 6),
    (Entry::Direct, 22),
];

struct Ad {
    id: String,
    adset_id: String,
    campaign_id: String,
    name: String,
    adset_name: String,
    campaign: usize,
}

fn ads() -> Vec<Ad> {
    let mut ads = Vec::new();
    for (c, (campaign, _)) in CAMPAIGNS.iter().enumerate() {
        for (s, adset) in ADSETS.iter().enumerate() {
            for (a, creative) in CREATIVES.iter().enumerate() {
                let adset_name = format!("{campaign}__{adset}");
                ads.push(Ad {
                    id: format!("1202300000000{c}{s}{a}"),
                    adset_id: format!("1202200000000{c}{s}"),
                    campaign_id: format!("1202100000000{c}"),
                    name: format!("{adset_name}__{creative}"),
                    adset_name,
                    campaign: c,
                });
            }
        }
    }
    ads
}

/// What the generator knows about a session, for the answer key.
struct Session {
    id: String,
    profile: String,
    funnel: usize,
    at: i64,
    user_agent: &'static str,
    /// How the Facebook hierarchy matches: "ad_id", "utm_campaign", "utm_content" or none.
    facebook_match: Option<&'static str>,
    channel: &'static str,
}

struct Charge {
    subscription: usize,
    at: i64,
    amount: i64,
    status: &'static str,
}

struct Subscription {
    id: String,
    session: Option<usize>,
    at: i64,
    currency: &'static str,
    sandbox: bool,
}

struct AmplitudeEvent {
    session_id: Option<String>,
    event_type: &'static str,
}

struct Data {
    sessions: Vec<Session>,
    subscriptions: Vec<Subscription>,
    charges: Vec<Charge>,
    amplitude: Vec<AmplitudeEvent>,
    tables: Vec<(String, String)>,
}

fn user_agent(rng: &mut fastrand::Rng, entry: Entry) -> &'static str {
    let facebook = matches!(
        entry,
        Entry::FacebookAd
            | Entry::FacebookUnknownAd
            | Entry::FacebookPlaceholder
            | Entry::FacebookClickOnly
    );
    let roll = rng.u8(..100);
    match () {
        _ if facebook && roll < 40 => UA_FACEBOOK_IOS,
        _ if facebook && roll < 65 => UA_FACEBOOK_ANDROID,
        _ if facebook && roll < 80 => UA_INSTAGRAM,
        _ if entry == Entry::TikTokAds && roll < 80 => UA_TIKTOK,
        _ if roll < 5 => UA_INSTAGRAM,
        _ if roll < 40 => UA_SAFARI_IOS,
        _ if roll < 70 => UA_CHROME_ANDROID,
        _ => UA_CHROME_WINDOWS,
    }
}

/// The session's landing URL, its Facebook match and its attribution channel.
fn origin(
    rng: &mut fastrand::Rng,
    entry: Entry,
    funnel: &Funnel,
    ads: &[Ad],
) -> (String, Option<&'static str>, &'static str) {
    let base = format!("https://start.reluvia.com/{}", funnel.id);
    let ad = &ads[rng.usize(..ads.len())];
    let campaign = CAMPAIGNS[ad.campaign].0;
    let fbclid = format!("IwAR{:012x}", rng.u64(..1 << 48));
    match entry {
        Entry::FacebookAd => (
            format!(
                "{base}?utm_source=facebook&utm_medium=paid&utm_campaign={campaign}&utm_content={}&fbclid={fbclid}&ad_id={}",
                ad.name, ad.id
            ),
            Some("ad_id"),
            "facebook_paid",
        ),
        Entry::FacebookUnknownAd => (
            format!(
                "{base}?fbclid={fbclid}&ad_id=120239999999{:04}&utm_source=facebook&utm_medium=paid&utm_campaign={campaign}",
                rng.u32(..10_000)
            ),
            Some("utm_campaign"),
            "facebook_paid",
        ),
        Entry::FacebookPlaceholder => (
            format!(
                "{base}?utm_source=facebook&utm_medium=cpc&utm_campaign={{{{campaign.name}}}}&utm_content={}&fbclid={fbclid}",
                ad.name
            ),
            Some("utm_content"),
            "facebook_paid",
        ),
        Entry::FacebookClickOnly => (format!("{base}?fbclid={fbclid}"), None, "facebook_organic"),
        Entry::GoogleAds => (
            format!(
                "{base}?utm_source=google&utm_medium=cpc&utm_campaign=brand_search&utm_term=sleep_app&gclid=Cj0K{:08x}",
                rng.u32(..)
            ),
            None,
            "google_paid",
        ),
        Entry::TikTokAds => (
            format!(
                "{base}?utm_source=tiktok&utm_medium=paid&utm_campaign=tt_spring&ttclid=E.C.P.{:08x}",
                rng.u32(..)
            ),
            None,
            "tiktok_paid",
        ),
        Entry::Newsletter => (
            format!("{base}?utm_source=newsletter&utm_medium=email&utm_campaign=weekly_digest"),
            None,
            "email",
        ),
        Entry::Direct => (base, None, "organic"),
    }
}

/// A session's start: a random second, one in twenty within two minutes of midnight UTC.
fn session_time(rng: &mut fastrand::Rng) -> i64 {
    let day = rng.i64(0..DAYS);
    if rng.u8(..20) == 0 {
        day * DAY + DAY - 120 + rng.i64(0..240)
    } else {
        day * DAY + rng.i64(0..DAY)
    }
}

fn generate(scale: u32, seed: u64) -> Data {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x000f_0f0f);
    let ads = ads();
    let n_sessions = 2_000 * scale as usize;
    let n_profiles = 1_600 * scale as usize;
    // One random stream, drawn in this order, so a seed always gives the same files.
    let (funnels, sessions_csv, sessions) =
        funnelfox::generate(&mut rng, &ads, n_sessions, n_profiles);
    let stripe::Payments {
        stripe_subscriptions,
        ff_subscriptions,
        charges_csv,
        subscriptions,
        charges,
    } = stripe::generate(&mut rng, &sessions, n_sessions, scale);
    let (amplitude_csv, amplitude) =
        amplitude::generate(&mut rng, &sessions, &subscriptions, scale);
    let [campaigns_csv, adsets_csv, ads_csv, statistics_csv] = facebook::generate(&mut rng, &ads);

    let mut rates = Table::new(&["currency", "usd_per_unit"]);
    for (currency, rate) in USD_RATES {
        rates.row(&[*currency, &csv::fixed(*rate, 4)]);
    }

    let tables = vec![
        ("raw_funnelfox/funnelfox_funnels.csv", funnels),
        ("raw_funnelfox/funnelfox_sessions.csv", sessions_csv),
        (
            "raw_funnelfox/funnelfox_subscriptions.csv",
            ff_subscriptions,
        ),
        ("raw_stripe/stripe_subscriptions.csv", stripe_subscriptions),
        ("raw_stripe/stripe_charges.csv", charges_csv),
        ("raw_amplitude/amplitude_events.csv", amplitude_csv),
        ("raw_facebook/facebook_campaigns.csv", campaigns_csv),
        ("raw_facebook/facebook_adsets.csv", adsets_csv),
        ("raw_facebook/facebook_ads.csv", ads_csv),
        ("raw_facebook/facebook_ad_statistics.csv", statistics_csv),
        ("reference/usd_exchange_rates.csv", rates),
    ];
    Data {
        sessions,
        subscriptions,
        charges,
        amplitude,
        tables: tables
            .into_iter()
            .map(|(path, table)| (path.to_owned(), table.into_string()))
            .collect(),
    }
}

/// Cents in a currency -> US cents, rounded half up per charge as staging does.
fn usd_cents(amount: i64, currency: &str) -> i64 {
    let rate = USD_RATES
        .iter()
        .find(|(c, _)| *c == currency)
        .map_or(10_000, |(_, r)| *r);
    (amount * rate + 5_000) / 10_000
}

/// A session's conversion: its first successful payment and all its successful revenue.
struct Conversion {
    at: i64,
    usd_cents: i64,
}

/// The headline figures of the funnel marts, computed from the generated rows.
fn answer_key(data: &Data) -> BTreeMap<String, String> {
    let mut key = BTreeMap::new();
    let mut set = |k: String, v: String| {
        key.insert(k, v);
    };
    // Only non-sandbox subscriptions linked to a session count; the first by creation time.
    let mut linked: BTreeMap<usize, usize> = BTreeMap::new();
    for (index, sub) in data.subscriptions.iter().enumerate() {
        if let (Some(session), false) = (sub.session, sub.sandbox) {
            let entry = linked.entry(session).or_insert(index);
            if (sub.at, &sub.id)
                < (
                    data.subscriptions[*entry].at,
                    &data.subscriptions[*entry].id,
                )
            {
                *entry = index;
            }
        }
    }
    let mut conversions: BTreeMap<usize, Conversion> = BTreeMap::new();
    let mut new_subscriptions = 0;
    let mut new_subscription_revenue = 0;
    let mut first_charge: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
    for charge in data.charges.iter().filter(|c| c.status == "succeeded") {
        let sub = &data.subscriptions[charge.subscription];
        if sub.sandbox || sub.session.is_none() {
            continue;
        }
        let amount = usd_cents(charge.amount, sub.currency);
        let first = first_charge
            .entry(charge.subscription)
            .or_insert((charge.at, amount));
        if charge.at < first.0 {
            *first = (charge.at, amount);
        }
        let Some(session) = sub.session else { continue };
        if linked.get(&session) != Some(&charge.subscription) {
            continue;
        }
        let conversion = conversions.entry(session).or_insert(Conversion {
            at: charge.at,
            usd_cents: 0,
        });
        conversion.at = conversion.at.min(charge.at);
        conversion.usd_cents += amount;
    }
    for (_, amount) in first_charge.values() {
        new_subscriptions += 1;
        new_subscription_revenue += amount;
    }
    let sessions = &data.sessions;
    set("funnel.sessions".into(), sessions.len().to_string());
    set(
        "funnel.converted_sessions".into(),
        conversions.len().to_string(),
    );
    set(
        "funnel.revenue_usd".into(),
        csv::cents(conversions.values().map(|c| c.usd_cents).sum()),
    );
    set(
        "funnel.conversion_rate".into(),
        ratio(conversions.len() as i128, sessions.len() as i128, 4).unwrap_or_default(),
    );
    let seconds: i64 = conversions
        .iter()
        .map(|(s, c)| c.at - sessions[*s].at)
        .sum();
    set(
        "funnel.avg_hours_to_convert".into(),
        ratio(seconds.into(), 3600 * conversions.len() as i128, 2).unwrap_or_default(),
    );
    set(
        "funnel.new_subscriptions".into(),
        new_subscriptions.to_string(),
    );
    set(
        "funnel.new_subscription_revenue_usd".into(),
        csv::cents(new_subscription_revenue),
    );

    let mut performance_rows = BTreeSet::new();
    let mut by_source: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_channel: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
    let mut by_match: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, session) in sessions.iter().enumerate() {
        let source = traffic_source(session.user_agent);
        performance_rows.insert((session.at.div_euclid(DAY), session.funnel, source));
        let converted = conversions.get(&i);
        let entry = by_source.entry(source).or_default();
        entry.0 += 1;
        entry.1 += usize::from(converted.is_some());
        let channel = by_channel.entry(session.channel).or_default();
        channel.0 += 1;
        channel.1 += converted.map_or(0, |c| c.usd_cents);
        if let Some(method) = session.facebook_match {
            *by_match.entry(method).or_default() += 1;
        }
    }
    set(
        "funnel.performance_rows".into(),
        performance_rows.len().to_string(),
    );
    for (source, (count, converted)) in by_source {
        set(format!("funnel.sessions.{source}"), count.to_string());
        set(
            format!("funnel.conversions.{source}"),
            converted.to_string(),
        );
    }
    for (channel, (count, revenue)) in by_channel {
        set(
            format!("funnel.sessions_by_channel.{channel}"),
            count.to_string(),
        );
        set(
            format!("funnel.revenue_by_channel.{channel}"),
            csv::cents(revenue),
        );
    }
    for (method, count) in by_match {
        set(
            format!("funnel.facebook_matches.{method}"),
            count.to_string(),
        );
    }

    let known: BTreeSet<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let in_sessions: Vec<&AmplitudeEvent> = data
        .amplitude
        .iter()
        .filter(|e| e.session_id.as_deref().is_some_and(|id| known.contains(id)))
        .collect();
    let with_events: BTreeSet<&str> = in_sessions
        .iter()
        .filter_map(|e| e.session_id.as_deref())
        .collect();
    set(
        "funnel.sessions_with_amplitude_events".into(),
        with_events.len().to_string(),
    );
    set(
        "funnel.amplitude_events_in_sessions".into(),
        in_sessions.len().to_string(),
    );
    set(
        "funnel.checkouts_started".into(),
        in_sessions
            .iter()
            .filter(|e| e.event_type == "checkout_started")
            .count()
            .to_string(),
    );
    key
}

/// The files of the paid-acquisition sources and their answer key, and a summary line.
pub fn files(scale: u32, seed: u64) -> (Vec<(String, String)>, String) {
    let mut data = generate(scale, seed);
    let key = answer_key(&data);
    let summary = format!(
        "funnel: {} sessions, {} Stripe subscriptions, {} charges, {} Amplitude events, {} figures",
        data.sessions.len(),
        data.subscriptions.len(),
        data.charges.len(),
        data.amplitude.len(),
        key.len()
    );
    let mut files = std::mem::take(&mut data.tables);
    files.push(csv::answer_key_file("answer_key_funnel", &key));
    (files, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = generate(1, 7).tables;
        assert_eq!(a, generate(1, 7).tables);
        assert_ne!(a, generate(1, 8).tables);
    }

    #[test]
    fn traffic_source_follows_document_000() {
        assert_eq!(traffic_source(UA_FACEBOOK_IOS), "facebook");
        assert_eq!(traffic_source(UA_FACEBOOK_ANDROID), "facebook");
        assert_eq!(traffic_source(UA_INSTAGRAM), "instagram");
        assert_eq!(traffic_source(UA_TIKTOK), "tiktok");
        assert_eq!(traffic_source(UA_SAFARI_IOS), "organic");
    }

    #[test]
    fn sandbox_and_unpaid_subscriptions_are_not_conversions() {
        let data = generate(1, 42);
        let key = answer_key(&data);
        let paid_sessions: BTreeSet<usize> = data
            .charges
            .iter()
            .filter(|c| c.status == "succeeded")
            .filter_map(|c| data.subscriptions[c.subscription].session)
            .collect();
        let converted: usize = key["funnel.converted_sessions"].parse().unwrap_or(0);
        assert!(converted > 0);
        assert!(
            converted < paid_sessions.len(),
            "sandbox purchases are paid in Stripe but are not conversions"
        );
    }

    #[test]
    fn every_awkward_case_is_generated() {
        let data = generate(1, 42);
        let key = answer_key(&data);
        for method in ["ad_id", "utm_campaign", "utm_content"] {
            assert!(key.contains_key(&format!("funnel.facebook_matches.{method}")));
        }
        assert!(data.subscriptions.iter().any(|s| s.sandbox));
        assert!(data.subscriptions.iter().any(|s| s.session.is_none()));
        for status in ["succeeded", "failed", "pending"] {
            assert!(data.charges.iter().any(|c| c.status == status));
        }
        assert!(data.amplitude.iter().any(|e| e.session_id.is_none()));
        assert!(
            data.sessions
                .iter()
                .any(|s| s.at % DAY > DAY - 120 || s.at % DAY < 120)
        );
    }
}
