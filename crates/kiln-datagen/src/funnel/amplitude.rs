//! Amplitude: product events, most carrying the FunnelFox session id in their properties,
//! some without one and some pointing to sessions FunnelFox never exported.

use std::collections::BTreeSet;

use super::*;
use crate::csv::{self, Table};

pub(super) fn generate(
    rng: &mut fastrand::Rng,
    sessions: &[Session],
    subscriptions: &[Subscription],
    scale: u32,
) -> (Table, Vec<AmplitudeEvent>) {
    let mut amplitude_csv = Table::new(&[
        "event_id",
        "user_id",
        "device_id",
        "event_type",
        "event_time",
        "event_properties",
        "platform",
        "os_version",
        "country",
        "city",
    ]);
    let mut amplitude = Vec::new();
    let converted: BTreeSet<usize> = subscriptions.iter().filter_map(|s| s.session).collect();
    let mut emit = |amplitude: &mut Vec<AmplitudeEvent>,
                    rng: &mut fastrand::Rng,
                    session: Option<&Session>,
                    session_id: Option<String>,
                    event_type: &'static str,
                    at: i64| {
        let agent = session.map_or(UA_SAFARI_IOS, |s| s.user_agent);
        let (platform, os) = if agent.contains("iPhone") {
            ("iOS", "17.2")
        } else if agent.contains("Android") {
            ("Android", "14")
        } else {
            ("Web", "")
        };
        let mut properties = serde_json::Map::new();
        if let Some(id) = &session_id {
            properties.insert("ff_session_id".into(), id.clone().into());
        }
        properties.insert("app_version".into(), "3.4.1".into());
        let place = PLACES[rng.usize(..PLACES.len())];
        let user = session
            .filter(|_| rng.u8(..10) < 6)
            .map(|s| s.profile.clone())
            .unwrap_or_default();
        let device = session.map_or_else(
            || format!("dev_anon_{:05}", rng.u32(..100_000)),
            |s| format!("dev_{}", &s.profile[4..]),
        );
        amplitude_csv.row(&[
            format!("{:08x}-amp-{:06}", rng.u32(..), amplitude.len()),
            user,
            device,
            event_type.to_owned(),
            csv::timestamp(at),
            serde_json::Value::Object(properties).to_string(),
            platform.to_owned(),
            os.to_owned(),
            place.0.to_owned(),
            place.1.unwrap_or("").to_owned(),
        ]);
        amplitude.push(AmplitudeEvent {
            session_id,
            event_type,
        });
    };
    for (i, session) in sessions.iter().enumerate() {
        if rng.u8(..4) == 0 {
            continue;
        }
        let mut at = session.at + rng.i64(0..30);
        let steps = rng.usize(1..10);
        for step in 0..steps {
            let kind = if step == 0 {
                "page_view"
            } else {
                ["quiz_answer", "button_click", "page_view", "paywall_view"][rng.usize(..4)]
            };
            emit(
                &mut amplitude,
                rng,
                Some(session),
                Some(session.id.clone()),
                kind,
                at,
            );
            at += rng.i64(5..120);
        }
        if converted.contains(&i) {
            emit(
                &mut amplitude,
                rng,
                Some(session),
                Some(session.id.clone()),
                "checkout_started",
                at,
            );
        }
    }
    // App usage without a session, and events pointing to sessions FunnelFox never exported.
    for i in 0..(300 * scale as i64) {
        let session = &sessions[(i as usize * 7) % sessions.len()];
        emit(
            &mut amplitude,
            rng,
            Some(session),
            None,
            "app_open",
            session.at + 3 * DAY,
        );
    }
    for i in 0..(30 * scale as i64) {
        emit(
            &mut amplitude,
            rng,
            None,
            Some(format!("ses_unknown_{i:04}")),
            "page_view",
            i * 3_000,
        );
    }

    (amplitude_csv, amplitude)
}
