//! Facebook Ads: campaigns, adsets, ads and their daily statistics (spend, impressions,
//! clicks).

use super::*;
use crate::csv::{self, Table};

/// The campaigns, adsets, ads and daily statistics tables.
pub(super) fn generate(rng: &mut fastrand::Rng, ads: &[Ad]) -> [Table; 4] {
    let mut campaigns_csv = Table::new(&["id", "name", "objective", "status", "created_time"]);
    for (c, (name, objective)) in CAMPAIGNS.iter().enumerate() {
        campaigns_csv.row(&[
            format!("1202100000000{c}").as_str(),
            name,
            objective,
            if c == 3 { "PAUSED" } else { "ACTIVE" },
            csv::timestamp(-30 * DAY).as_str(),
        ]);
    }
    let mut adsets_csv = Table::new(&["id", "campaign_id", "name", "status"]);
    let mut ads_csv = Table::new(&["id", "adset_id", "campaign_id", "name", "status"]);
    let mut statistics_csv = Table::new(&[
        "date_start",
        "ad_id",
        "adset_id",
        "campaign_id",
        "campaign_name",
        "adset_name",
        "ad_name",
        "spend",
        "impressions",
        "clicks",
    ]);
    for ad in ads {
        if ad.id.ends_with('0') {
            adsets_csv.row(&[&ad.adset_id, &ad.campaign_id, &ad.adset_name, "ACTIVE"]);
        }
        ads_csv.row(&[&ad.id, &ad.adset_id, &ad.campaign_id, &ad.name, "ACTIVE"]);
        for day in 0..DAYS {
            // Ads do not run every day.
            if rng.u8(..10) == 0 {
                continue;
            }
            let impressions = rng.u32(500..8_000);
            statistics_csv.row(&[
                csv::date(day * DAY),
                ad.id.clone(),
                ad.adset_id.clone(),
                ad.campaign_id.clone(),
                CAMPAIGNS[ad.campaign].0.to_owned(),
                ad.adset_name.clone(),
                ad.name.clone(),
                csv::cents(rng.i64(500..25_000)),
                impressions.to_string(),
                (impressions / rng.u32(40..120)).to_string(),
            ]);
        }
    }

    [campaigns_csv, adsets_csv, ads_csv, statistics_csv]
}
