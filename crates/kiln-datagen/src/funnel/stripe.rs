//! Stripe: subscriptions (with the FunnelFox session in `metadata.ff_session_id`) and their
//! charges, in cents, with failures, retries and renewals; and FunnelFox's own subscription
//! records pointing to them (`psp_id`, `sandbox`).

use super::*;
use crate::csv::{self, Table};
use crate::pick;

/// What the payment systems hold.
pub(super) struct Payments {
    pub stripe_subscriptions: Table,
    pub ff_subscriptions: Table,
    pub charges_csv: Table,
    pub subscriptions: Vec<Subscription>,
    pub charges: Vec<Charge>,
}

pub(super) fn generate(
    rng: &mut fastrand::Rng,
    sessions: &[Session],
    n_sessions: usize,
    scale: u32,
) -> Payments {
    let mut stripe_subscriptions = Table::new(&[
        "id",
        "customer",
        "status",
        "plan_interval",
        "currency",
        "created",
        "metadata",
    ]);
    let mut ff_subscriptions = Table::new(&[
        "id",
        "psp_id",
        "payment_provider",
        "sandbox",
        "status",
        "created_at",
    ]);
    let mut charges_csv = Table::new(&[
        "id",
        "subscription_id",
        "customer",
        "amount",
        "currency",
        "status",
        "failure_code",
        "created",
    ]);
    let mut subscriptions = Vec::new();
    let mut charges = Vec::new();
    // Stripe subscriptions: a quarter of the sessions convert; a few subscriptions were created
    // in the Stripe dashboard and carry no session.
    let mut buyers: Vec<Option<usize>> = (0..n_sessions)
        .filter(|_| rng.u8(..100) < 25)
        .map(Some)
        .collect();
    buyers.extend((0..(20 * scale)).map(|_| None));
    for (n, session) in buyers.into_iter().enumerate() {
        let id = format!("sub_{n:07}");
        let customer = format!("cus_{n:07}");
        let at = match session {
            // Minutes to hours after the session; one in ten a day or more later.
            Some(s) if rng.u8(..10) == 0 => sessions[s].at + rng.i64(DAY..3 * DAY),
            Some(s) => sessions[s].at + rng.i64(120..6 * 3600),
            None => rng.i64(0..DAYS * DAY),
        };
        let currency = pick(rng, &[("usd", 80), ("eur", 12), ("gbp", 8)]);
        let (interval, price) = pick(
            rng,
            &[
                (("month", 1_999), 45),
                (("month", 2_999), 25),
                (("year", 8_999), 30),
            ],
        );
        let sandbox = match session {
            Some(s) => FUNNELS[sessions[s].funnel].environment != "production" || rng.u8(..50) == 0,
            None => false,
        };
        let mut metadata = serde_json::Map::new();
        if let Some(s) = session {
            metadata.insert("ff_session_id".into(), sessions[s].id.clone().into());
            metadata.insert(
                "funnel_id".into(),
                FUNNELS[sessions[s].funnel].id.to_owned().into(),
            );
        } else {
            metadata.insert("created_by".into(), "support".into());
        }
        let index = subscriptions.len();
        // The first payment, a retry after a failure, a renewal a month later.
        let mut attempts: Vec<(i64, &'static str)> = Vec::new();
        match rng.u8(..100) {
            0..78 => attempts.push((at, "succeeded")),
            78..92 => {
                attempts.push((at, "failed"));
                let retry = at + rng.i64(3600..2 * DAY);
                attempts.push((
                    retry,
                    if rng.u8(..10) < 6 {
                        "succeeded"
                    } else {
                        "failed"
                    },
                ));
            }
            _ => attempts.push((at, "pending")),
        }
        if interval == "month" && attempts.iter().any(|a| a.1 == "succeeded") && at < 30 * DAY {
            let renewal = at + 30 * DAY;
            attempts.push((
                renewal,
                if rng.u8(..10) < 8 {
                    "succeeded"
                } else {
                    "failed"
                },
            ));
        }
        let status = match attempts.last().map(|a| a.1) {
            Some("succeeded") => "active",
            Some("pending") => "incomplete",
            _ => "past_due",
        };
        stripe_subscriptions.row(&[
            id.as_str(),
            &customer,
            status,
            interval,
            currency,
            &csv::timestamp(at),
            &serde_json::Value::Object(metadata).to_string(),
        ]);
        if session.is_some() {
            ff_subscriptions.row(&[
                format!("ffs_{n:07}"),
                id.clone(),
                "stripe".to_owned(),
                sandbox.to_string(),
                status.to_owned(),
                csv::timestamp(at),
            ]);
        }
        for (when, outcome) in attempts {
            let failure = if outcome == "failed" {
                FAILURE_CODES[rng.usize(..FAILURE_CODES.len())]
            } else {
                ""
            };
            charges_csv.row(&[
                format!("ch_{:08}", charges.len()),
                id.clone(),
                customer.clone(),
                price.to_string(),
                currency.to_owned(),
                outcome.to_owned(),
                failure.to_owned(),
                csv::timestamp(when),
            ]);
            charges.push(Charge {
                subscription: index,
                at: when,
                amount: price,
                status: outcome,
            });
        }
        subscriptions.push(Subscription {
            id,
            session,
            at,
            currency,
            sandbox,
        });
    }

    Payments {
        stripe_subscriptions,
        ff_subscriptions,
        charges_csv,
        subscriptions,
        charges,
    }
}
