//! FunnelFox: the funnels and the sessions that enter them, with the origin URL (UTMs,
//! `fbclid`, `ad_id`), user agent, IP and place that attribution reads.

use std::collections::BTreeMap;

use super::*;
use crate::csv::{self, Table};
use crate::pick;

/// FunnelFox's funnels and sessions tables, and the sessions as the answer key sees them.
pub(super) fn generate(
    rng: &mut fastrand::Rng,
    ads: &[Ad],
    n_sessions: usize,
    n_profiles: usize,
) -> (Table, Table, Vec<Session>) {
    let mut funnels = Table::new(&[
        "id",
        "title",
        "type",
        "environment",
        "version",
        "created_at",
    ]);
    for (i, f) in FUNNELS.iter().enumerate() {
        funnels.row(&[
            f.id,
            f.title,
            f.kind,
            f.environment,
            f.version,
            &csv::timestamp(-(90 - i as i64 * 20) * DAY),
        ]);
    }

    let mut sessions_csv = Table::new(&[
        "id",
        "profile_id",
        "funnel_id",
        "funnel_version",
        "created_at",
        "origin",
        "user_agent",
        "ip",
        "country",
        "city",
    ]);
    let mut sessions = Vec::with_capacity(n_sessions);
    let mut profile_place = BTreeMap::new();
    for i in 0..n_sessions {
        let funnel = pick(rng, &[(0, 60), (1, 37), (2, 3)]);
        let entry = pick(rng, ENTRIES);
        let (url, facebook_match, channel) = origin(rng, entry, &FUNNELS[funnel], ads);
        let agent = user_agent(rng, entry);
        let profile = format!("prf_{:06}", rng.usize(..n_profiles));
        let place = *profile_place
            .entry(profile.clone())
            .or_insert_with(|| PLACES[rng.usize(..PLACES.len())]);
        let at = session_time(rng);
        let id = format!("ses_{i:07}");
        let ip = format!("203.0.{}.{}", rng.u8(..=255), rng.u8(1..255));
        let version = if rng.u8(..10) == 0 {
            "v6"
        } else {
            FUNNELS[funnel].version
        };
        sessions_csv.row(&[
            id.as_str(),
            &profile,
            FUNNELS[funnel].id,
            version,
            &csv::timestamp(at),
            &url,
            agent,
            &ip,
            place.0,
            place.1.unwrap_or(""),
        ]);
        sessions.push(Session {
            id,
            profile,
            funnel,
            at,
            user_agent: agent,
            facebook_match,
            channel,
        });
    }

    (funnels, sessions_csv, sessions)
}
