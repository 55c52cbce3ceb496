//! The admins' quota warnings (issue 18): a banner above every page when this month's use
//! passed 80% or 100% of a quota, from the quota's standing when the inbox opens and from the
//! server's live `quota_warning`s. Dismissed, a warning stays away until a higher threshold
//! or another month.

use crate::usage::{is_urgent, warning_text};
use leptos::prelude::*;
use talk_protocol::{QuotaMetric, QuotaStatus, QuotaWarning};

/// The warnings on show: one per metric at most, the latest.
#[derive(Clone, Copy)]
pub struct QuotaAlerts {
    warnings: RwSignal<Vec<QuotaWarning>>,
    /// `(month, metric, level)` of each warning the admin dismissed.
    dismissed: RwSignal<Vec<(String, QuotaMetric, u8)>>,
}

impl QuotaAlerts {
    pub fn new() -> Self {
        QuotaAlerts {
            warnings: RwSignal::new(Vec::new()),
            dismissed: RwSignal::new(Vec::new()),
        }
    }

    /// A threshold crossed just now (the server's `quota_warning`).
    pub fn live(self, warning: QuotaWarning) {
        self.warnings.update(|shown| {
            shown.retain(|known| known.metric != warning.metric);
            shown.push(warning);
        });
    }

    /// This month's standing (the inbox opened, or an admin changed the quota): the warnings
    /// it calls for replace those on show.
    pub fn standing(self, status: &QuotaStatus) {
        self.warnings.set(crate::usage::warnings_for(status));
    }

    pub fn dismiss(self, warning: &QuotaWarning) {
        let key = (warning.month.clone(), warning.metric, warning.level);
        self.dismissed.update(|dismissed| dismissed.push(key));
    }

    /// The warnings to show, text first.
    pub fn visible(self) -> Vec<QuotaWarning> {
        let dismissed = self.dismissed.get();
        let mut shown: Vec<QuotaWarning> = self
            .warnings
            .get()
            .into_iter()
            .filter(|warning| {
                !dismissed.iter().any(|(month, metric, level)| {
                    *month == warning.month && *metric == warning.metric && *level >= warning.level
                })
            })
            .collect();
        shown.sort_by_key(|warning| warning.metric == QuotaMetric::Voice);
        shown
    }
}

impl Default for QuotaAlerts {
    fn default() -> Self {
        Self::new()
    }
}

/// The banners. Two live regions that are always there, so a warning added later is
/// announced: polite for warnings, assertive for a hard quota that now refuses visitors.
#[component]
pub fn QuotaBanner(alerts: QuotaAlerts, on_open_usage: Callback<()>) -> impl IntoView {
    let banners = move |urgent: bool| {
        alerts
            .visible()
            .into_iter()
            .filter(|warning| is_urgent(warning) == urgent)
            .map(|warning| {
                let metric = match warning.metric {
                    QuotaMetric::Text => "text",
                    QuotaMetric::Voice => "voice",
                };
                let text = warning_text(&warning);
                let level = warning.level;
                view! {
                    <div class="inbox-quota-banner" class:inbox-quota-urgent=urgent
                        data-testid="quota-banner" data-metric=metric data-level=level>
                        <p data-testid="quota-banner-text">{text}</p>
                        <button type="button" class="inbox-link" data-testid="quota-banner-usage"
                            on:click=move |_| on_open_usage.run(())>
                            "See usage and the quota"
                        </button>
                        <button type="button" data-testid="quota-banner-dismiss"
                            on:click=move |_| alerts.dismiss(&warning)>
                            "Dismiss"<span class="inbox-visually-hidden">{format!(" the {metric} quota warning")}</span>
                        </button>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <div class="inbox-quota-banners" role="status" data-testid="quota-banners">{move || banners(false)}</div>
        <div class="inbox-quota-banners" role="alert" data-testid="quota-alerts">{move || banners(true)}</div>
    }
    .into_any()
}
