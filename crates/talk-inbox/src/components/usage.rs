//! The admin's "Usage" page (issue 18): what the workspace used per UTC day over the last 7,
//! 30 or 90 days, as a chart (SVG drawn from `crate::usage_chart`), totals, a table and a CSV
//! export; and the monthly quota's settings.
//!
//! Every component here ends in `into_any()`, like the settings page's (see `bots.rs`): the
//! release build's LTO fails on symbol names built from deeply nested view types.

use super::quota_banner::QuotaAlerts;
use crate::api::ApiClient;
use crate::components::{Auth, Choice, TextField};
use crate::usage::{
    check_quota, csv_file_name, grouped, last_days, percent, usage_csv, DEFAULT_RANGE, RANGES,
};
use crate::usage_chart;
use crate::validation::{problem_for, Problem};
use leptos::prelude::*;
use std::time::Duration;
use talk_protocol::{QuotaMeter, QuotaMode, QuotaStatus, UsageCounts, UsageReport};
use wasm_bindgen::{JsCast, JsValue};

#[component]
pub fn UsagePage(alerts: QuotaAlerts) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let range = RwSignal::new(DEFAULT_RANGE);
    let report = RwSignal::new(None::<UsageReport>);
    let problem = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let load = move |days: i64| {
        range.set(days);
        loading.set(true);
        let (from, to) = last_days(
            talk_protocol::days::day_of_ms(js_sys::Date::now() as i64),
            days,
        );
        let request = async move {
            let answer = ApiClient.usage(&from, &to).await;
            loading.set(false);
            answer
        };
        auth.call(request, problem, move |answer| {
            if range.get_untracked() == days {
                problem.set(None);
                report.set(Some(answer));
            }
        });
    };
    load(DEFAULT_RANGE);
    // A saved quota changes this month's standing: the chart's quota panel follows.
    let quota_saved = Callback::new(move |status: QuotaStatus| {
        alerts.standing(&status);
        report.update(|report| {
            if let Some(report) = report {
                report.quota = status;
            }
        });
    });

    view! {
        <main class="inbox-settings inbox-usage" data-testid="usage-page">
            <h2>"Usage"</h2>
            <p class="inbox-muted">
                "What your workspace used each day (UTC). Previews (the settings page's live preview and test mode) are counted apart and never count toward your quota."
            </p>
            <div class="inbox-tabs" role="group" aria-label="Period">
                {RANGES.iter().map(|&days| view! {
                    <button type="button" data-testid=format!("usage-range-{days}")
                        aria-pressed=move || (range.get() == days).to_string()
                        on:click=move |_| load(days)>
                        {format!("Last {days} days")}
                    </button>
                }).collect_view()}
            </div>
            <p class="inbox-error" role="alert" data-testid="usage-error">{problem}</p>
            <p class="inbox-muted" role="status" data-testid="usage-loading">
                {move || if loading.get() { "Loading…" } else { "" }}
            </p>
            {move || report.get().map(|report| view! { <UsageReportView report/> })}
            <QuotaSection on_saved=quota_saved/>
        </main>
    }
    .into_any()
}

/// A report: the chart, the totals, the CSV export and the table.
#[component]
pub fn UsageReportView(report: UsageReport) -> impl IntoView {
    let table_open = RwSignal::new(false);
    let csv = StoredValue::new((csv_file_name(&report), usage_csv(&report)));
    let export_problem = RwSignal::new(None::<String>);
    let export = move |_| {
        let (name, text) = csv.get_value();
        export_problem.set(download(&name, &text).err().map(|_| {
            "The browser refused the download. Copy the numbers from the table instead.".into()
        }));
    };
    view! {
        <section class="inbox-card" aria-labelledby="usage-chart-heading">
            <h3 id="usage-chart-heading">{format!("{} to {}", report.from, report.to)}</h3>
            <UsageChart report=report.clone()/>
            <div class="inbox-row-actions">
                <button type="button" data-testid="usage-table-toggle" aria-controls="usage-table"
                    aria-expanded=move || table_open.get().to_string()
                    on:click=move |_| table_open.update(|open| *open = !*open)>
                    {move || if table_open.get() { "Hide the table" } else { "Show as table" }}
                </button>
                <button type="button" data-testid="usage-csv" on:click=export>"Download CSV"</button>
            </div>
            <p class="inbox-error" role="alert" data-testid="usage-csv-error">{export_problem}</p>
            // Focusable: a keyboard can scroll the wide table.
            <div id="usage-table" class="inbox-table-scroll" role="region" aria-label="Usage per day"
                tabindex="0" hidden=move || !table_open.get()>
                <UsageTable report=report.clone()/>
            </div>
        </section>
        <UsageTotals report/>
    }
    .into_any()
}

/// Hands `text` to the browser as a file download: a Blob behind an object URL, followed by
/// a link with `download` (no navigation, nothing leaves the page; the inbox's CSP governs
/// fetches and frames, not downloads).
fn download(name: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/csv;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or(JsValue::NULL)?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has its copy once it started: the URL may go then, not at once.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        Duration::from_secs(30),
    );
    Ok(())
}

/// The daily series as SVG: geometry from `usage_chart`, drawn here as elements with their
/// numbers in `data-` attributes, words as text nodes. `role="img"` with a title and a
/// description that sums it up; the table beside it has every number.
#[component]
pub fn UsageChart(report: UsageReport) -> impl IntoView {
    let chart = usage_chart::chart(&report);
    let (left, right) = (chart.left, chart.right);
    let has_quota = chart.panels.iter().any(|panel| panel.key == "quota");
    let panels = chart
        .panels
        .into_iter()
        .map(|panel| {
            let ticks = panel
                .ticks
                .into_iter()
                .map(|tick| {
                    view! {
                        <line class="inbox-chart-grid" x1=left x2=right y1=tick.y y2=tick.y></line>
                        <text class="inbox-chart-label" x={left - 6} y={tick.y + 4} text-anchor="end">{tick.label}</text>
                    }
                })
                .collect_view();
            let bars = panel
                .bars
                .into_iter()
                .map(|bar| {
                    let name = bar.series.name();
                    view! {
                        <rect class=format!("inbox-chart-{name}") data-testid=format!("usage-chart-{name}")
                            data-day=bar.day data-count=bar.count
                            x=bar.x y=bar.y width=bar.width height=bar.height></rect>
                    }
                })
                .collect_view();
            let rules = panel
                .rules
                .into_iter()
                .map(|rule| {
                    let class = if rule.quota { "inbox-chart-quota" } else { "inbox-chart-warning" };
                    view! {
                        <line class=class data-testid=class x1=left x2=right y1=rule.y y2=rule.y></line>
                        <text class="inbox-chart-label" x=right y={rule.y - 4} text-anchor="end">{rule.label}</text>
                    }
                })
                .collect_view();
            let lines = panel
                .lines
                .into_iter()
                .map(|line| {
                    let name = line.series.name();
                    view! {
                        <polyline class=format!("inbox-chart-{name}") data-testid=format!("usage-chart-{name}")
                            data-total=line.total points=line.points_attr()></polyline>
                    }
                })
                .collect_view();
            view! {
                <g data-testid=format!("usage-chart-panel-{}", panel.key)>
                    <text class="inbox-chart-title" x=left y={panel.top - 10}>{panel.title}</text>
                    {ticks}
                    {bars}
                    {lines}
                    {rules}
                    <line class="inbox-chart-axis" x1=left x2=right y1=panel.bottom y2=panel.bottom></line>
                </g>
            }
        })
        .collect_view();
    let day_labels = chart
        .day_labels
        .into_iter()
        .map(|label| {
            view! { <text class="inbox-chart-label" x=label.x y=chart.day_labels_y text-anchor="middle">{label.text}</text> }
        })
        .collect_view();
    view! {
        <figure class="inbox-usage-figure">
            <svg class="inbox-usage-chart" role="img" data-testid="usage-chart"
                aria-labelledby="usage-chart-title usage-chart-desc"
                viewBox=format!("0 0 {} {}", chart.width, chart.height)>
                <title id="usage-chart-title">"Daily usage"</title>
                <desc id="usage-chart-desc">{chart.summary}</desc>
                {panels}
                {day_labels}
            </svg>
            <figcaption>
                <ul class="inbox-legend" data-testid="usage-legend">
                    <li><span class="inbox-swatch inbox-chart-text" aria-hidden="true"></span>"Text messages (wide bars)"</li>
                    <li><span class="inbox-swatch inbox-chart-voice" aria-hidden="true"></span>"Voice minutes, rounded up per call (wide bars)"</li>
                    <li><span class="inbox-swatch inbox-chart-preview-text" aria-hidden="true"></span>"Previews (narrow bars beside them): not counted toward the quota"</li>
                    {has_quota.then(|| view! {
                        <li><span class="inbox-swatch inbox-swatch-line" aria-hidden="true"></span>"This month so far as a share of the monthly quota: text solid, voice dashed; the red line is the quota (100%), the dashed brown one the 80% warning"</li>
                    })}
                </ul>
            </figcaption>
        </figure>
    }
    .into_any()
}

/// One row per day, then the totals: every number the chart draws and more.
#[component]
pub fn UsageTable(report: UsageReport) -> impl IntoView {
    let row = |counts: &UsageCounts, preview: &UsageCounts| {
        [
            ("text", counts.text.total()),
            ("visitor", counts.text.visitor),
            ("agent", counts.text.agent),
            ("bot", counts.text.bot),
            ("auto-reply", counts.text.auto_reply),
            ("voice", counts.voice_minutes),
            ("calls", counts.calls),
            ("inbound", counts.conversations_inbound),
            ("outbound", counts.conversations_outbound),
            ("widget-sessions", counts.widget_sessions),
            ("api-sessions", counts.api_sessions),
            ("preview-text", preview.text.total()),
            ("preview-voice", preview.voice_minutes),
        ]
        .map(|(key, value)| {
            view! { <td data-testid=format!("usage-row-{key}") data-count=value>{grouped(value)}</td> }
        })
        .into_iter()
        .collect_view()
    };
    let days = report
        .days
        .iter()
        .map(|day| {
            view! {
                <tr data-testid="usage-row" data-day=day.day.clone()>
                    <th scope="row">{day.day.clone()}</th>
                    {row(&day.production, &day.preview)}
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="inbox-table inbox-usage-table" data-testid="usage-table">
            <caption>{format!("Usage per day (UTC), {} to {}", report.from, report.to)}</caption>
            <thead>
                <tr>
                    <th scope="col">"Day"</th>
                    <th scope="col">"Text messages"</th>
                    <th scope="col">"From visitors"</th>
                    <th scope="col">"From agents"</th>
                    <th scope="col">"From bots"</th>
                    <th scope="col">"Auto-replies"</th>
                    <th scope="col">"Voice minutes"</th>
                    <th scope="col">"Calls"</th>
                    <th scope="col">"Conversations started by visitors"</th>
                    <th scope="col">"Conversations started by your team"</th>
                    <th scope="col">"Widget sessions"</th>
                    <th scope="col">"API sessions"</th>
                    <th scope="col">"Preview messages"</th>
                    <th scope="col">"Preview voice minutes"</th>
                </tr>
            </thead>
            <tbody>{days}</tbody>
            <tfoot>
                <tr data-testid="usage-row-total">
                    <th scope="row">"Total"</th>
                    {row(&report.totals, &report.preview_totals)}
                </tr>
            </tfoot>
        </table>
    }
    .into_any()
}

/// The range's totals, production and previews apart, with the previews' fair-use limits.
#[component]
pub fn UsageTotals(report: UsageReport) -> impl IntoView {
    let item = |testid: &'static str, label: &'static str, value: i64| {
        view! {
            <div>
                <dt>{label}</dt>
                <dd data-testid=testid data-count=value>{grouped(value)}</dd>
            </div>
        }
    };
    let totals = report.totals;
    let preview = report.preview_totals;
    let limits = report.preview_limits;
    view! {
        <section class="inbox-card" aria-labelledby="usage-totals-heading" data-testid="usage-totals">
            <h3 id="usage-totals-heading">"Totals"</h3>
            <dl class="inbox-capture-stats inbox-usage-totals">
                {item("usage-total-text", "Text messages", totals.text.total())}
                {item("usage-total-visitor", "From visitors", totals.text.visitor)}
                {item("usage-total-agent", "From agents", totals.text.agent)}
                {item("usage-total-bot", "From bots", totals.text.bot)}
                {item("usage-total-auto-reply", "Auto-replies", totals.text.auto_reply)}
                {item("usage-total-voice", "Voice minutes", totals.voice_minutes)}
                {item("usage-total-calls", "Calls", totals.calls)}
                {item("usage-total-inbound", "Conversations started by visitors", totals.conversations_inbound)}
                {item("usage-total-outbound", "Conversations started by your team", totals.conversations_outbound)}
                {item("usage-total-widget-sessions", "Widget sessions", totals.widget_sessions)}
                {item("usage-total-api-sessions", "API sessions", totals.api_sessions)}
            </dl>
            <h4>"Previews"</h4>
            <p class="inbox-hint" data-testid="usage-preview-limits">
                {format!(
                    "Not counted above nor toward your quota. Fair use: {} preview messages and {} preview voice minutes a day.",
                    grouped(limits.messages_per_day),
                    grouped(limits.voice_minutes_per_day)
                )}
            </p>
            <dl class="inbox-capture-stats inbox-usage-totals">
                {item("usage-preview-text", "Messages", preview.text.total())}
                {item("usage-preview-voice", "Voice minutes", preview.voice_minutes)}
                {item("usage-preview-calls", "Calls", preview.calls)}
                {item("usage-preview-conversations", "Conversations", preview.conversations_inbound + preview.conversations_outbound)}
                {item("usage-preview-sessions", "Widget sessions", preview.widget_sessions)}
            </dl>
        </section>
    }
    .into_any()
}

static MODES: [(QuotaMode, &str); 3] = [
    (QuotaMode::Off, "Off: no limits"),
    (
        QuotaMode::Soft,
        "Soft: warn the admins at 80% and 100%, refuse nothing",
    ),
    (
        QuotaMode::Hard,
        "Hard: warn, and past 100% refuse new visitor conversations (and calls)",
    ),
];

/// A meter this month, as words.
fn standing(meter: QuotaMeter, unit: &str) -> String {
    match meter.limit {
        Some(limit) => format!(
            "{} of {} {unit} ({}%)",
            grouped(meter.used),
            grouped(limit),
            percent(meter.used, limit)
        ),
        None => format!("{} {unit} (no limit)", grouped(meter.used)),
    }
}

/// The monthly quota: this month's standing, and its settings.
#[component]
pub fn QuotaSection(on_saved: Callback<QuotaStatus>) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let status = RwSignal::new(None::<QuotaStatus>);
    let problem = RwSignal::new(None::<String>);
    auth.call(ApiClient.quota(), problem, move |answer| {
        status.set(Some(answer))
    });
    let form = move || {
        status.get().map(|current| {
            view! { <QuotaForm current on_saved=Callback::new(move |saved: QuotaStatus| {
                status.set(Some(saved.clone()));
                on_saved.run(saved);
            })/> }
        })
    };
    view! {
        <section class="inbox-card" aria-labelledby="quota-heading" data-testid="quota-section">
            <h3 id="quota-heading">"Monthly quota"</h3>
            <p class="inbox-error" role="alert" data-testid="quota-load-error">{problem}</p>
            {move || status.get().map(|status| view! {
                <p data-testid="quota-standing">
                    {format!("This month ({}): ", status.month)}
                    <span data-testid="quota-text-used">{standing(status.text, "text messages")}</span>
                    "; "
                    <span data-testid="quota-voice-used">{standing(status.voice, "voice minutes")}</span>
                    "."
                </p>
            })}
            {form}
        </section>
    }
    .into_any()
}

/// The quota's settings, checked before they are sent; the server's refusal is shown too.
#[component]
pub fn QuotaForm(current: QuotaStatus, on_saved: Callback<QuotaStatus>) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let settings = current.settings;
    let mode = RwSignal::new(settings.mode);
    let limit_text = |limit: Option<i64>| limit.map(|l| l.to_string()).unwrap_or_default();
    let text = RwSignal::new(limit_text(settings.text_messages_per_month));
    let voice = RwSignal::new(limit_text(settings.voice_minutes_per_month));
    let problems = RwSignal::new(Vec::<Problem>::new());
    let refused = RwSignal::new(None::<String>);
    let saved = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error_for =
        move |field: &'static str| Signal::derive(move || problems.with(|p| problem_for(p, field)));
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        saved.set(String::new());
        refused.set(None);
        let wanted = match check_quota(
            mode.get_untracked(),
            &text.get_untracked(),
            &voice.get_untracked(),
        ) {
            Ok(wanted) => wanted,
            Err(found) => {
                problems.set(found);
                return;
            }
        };
        problems.set(Vec::new());
        busy.set(true);
        let request = async move {
            let answer = ApiClient.save_quota(&wanted).await;
            busy.set(false);
            answer
        };
        auth.call(request, refused, move |status| {
            saved.set("Saved.".into());
            on_saved.run(status);
        });
    };
    view! {
        <form class="inbox-quota-form" data-testid="quota-form" on:submit=save novalidate=true>
            <Choice id="quota-mode" label="Mode" options=MODES.as_slice()
                value=mode on_change=Callback::new(move |m| mode.set(m))
                hint="The month is the calendar month in UTC. Previews never count."/>
            <TextField id="quota-text" label="Text messages per month" kind="number"
                hint="Every message in a conversation: visitors', agents', bots' and auto-replies. Empty: no limit."
                value=text on_input=Callback::new(move |v| text.set(v)) error=error_for("quota-text")/>
            <TextField id="quota-voice" label="Voice minutes per month" kind="number"
                hint="Connected time, rounded up to the minute per call. Empty: no limit."
                value=voice on_input=Callback::new(move |v| voice.set(v)) error=error_for("quota-voice")/>
            <p class="inbox-error" role="alert" data-testid="quota-error">{refused}</p>
            <button type="submit" class="inbox-primary" data-testid="quota-save" disabled=busy>"Save quota"</button>
            <p class="inbox-muted" role="status" data-testid="quota-status">{saved}</p>
        </form>
    }
    .into_any()
}
