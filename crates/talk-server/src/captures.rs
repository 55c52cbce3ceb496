//! Capture widgets (seed 000's conversation capture widget): messages the workspace sends
//! first. This module is their rules, as plain functions of what they look at: which pages a
//! capture's URL rules admit, whom its audience admits, its dates, its frequency and minimum
//! gap, the visit ("session") a showing belongs to, the pick of at most one capture per page
//! view, its message with merge tags, and what an admin may save. [`service`] reads the store
//! and applies them; [`stored`] is what the store reads and writes.
//!
//! **URL rules.** The page's URL is parsed (`url` crate) and its fragment dropped. A rule value
//! starting with `/` is compared with the page's path, plus `?` and the query when the value
//! has a `?`: `/pricing` equals the page `https://site/pricing?utm_source=ads`, and
//! `/pricing?plan=pro` equals only that query. A value that is an absolute http(s) URL is
//! compared with the whole URL. Both sides of those two go through the same parser, so scheme
//! and host compare case-insensitively and percent-encoding is alike (`/über` matches
//! `/%C3%BCber`); paths, queries and any other value (`utm_source=ads`) compare exactly,
//! case-sensitively, as most servers treat paths. Any include rule must match (no include
//! rule: every page), and no exclude rule may.
//!
//! **Audience.** Unidentified: no verified session and no person linked to the visitor.
//! Known: a person is linked (the email form, or a verified session). Verified: this session
//! is verified.
//!
//! **Frequency.** Never again once the visitor dismissed or replied to it. Otherwise, after
//! at least `min_gap_secs` since it was last shown to the visitor: once per visitor (never
//! shown before), once per session (not shown during the current visit), or every page view.
//! A visit is the visitor's page views (`/v1/talk/track`) and this capture's showings with
//! less than [`VISIT_GAP_SECS`] between consecutive ones, up to now.

pub mod service;
pub mod stored;

use std::collections::HashMap;
use talk_protocol::{
    Audience, CaptureOffer, CaptureSender, CaptureWidgetInput, Frequency, GreetingTemplate,
    OfferSender, PersonSummary, UrlMatch, UrlRule, MAX_CAPTURE_DELAY_SECS,
    MAX_CAPTURE_MESSAGE_BYTES, MAX_CAPTURE_NAME_CHARS, MAX_CAPTURE_RULES, MAX_CAPTURE_RULE_BYTES,
    MAX_MESSAGE_BYTES, MAX_URL_BYTES, VISIT_GAP_SECS,
};
use url::Url;

/// The page a widget session starts on, as the URL rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The whole URL without its fragment, as the `url` crate writes it.
    full: String,
    path: String,
    query: Option<String>,
}

impl Page {
    /// An absolute http(s) URL with a host, at most `MAX_URL_BYTES`; anything else is no
    /// page (and so no capture).
    pub fn parse(url: &str) -> Option<Page> {
        let url = url.trim();
        if url.len() > MAX_URL_BYTES {
            return None;
        }
        let mut url = Url::parse(url).ok()?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return None;
        }
        url.set_fragment(None);
        Some(Page {
            path: url.path().to_string(),
            query: url.query().map(str::to_string),
            full: url.into(),
        })
    }
}

/// What a rule's value is compared with, and the value as compared.
fn subject_and_value<'a>(page: &'a Page, value: &str) -> (std::borrow::Cow<'a, str>, String) {
    use std::borrow::Cow;
    let value = value.trim();
    if value.starts_with('/') {
        // Through the same parser as the page, so encodings agree.
        let mut parsed = Url::parse("http://rule.invalid/").expect("a constant URL");
        let (path, query) = match value.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (value, None),
        };
        parsed.set_path(path);
        match query {
            Some(query) => {
                parsed.set_query(Some(query));
                let value = format!("{}?{}", parsed.path(), parsed.query().unwrap_or_default());
                let subject = format!("{}?{}", page.path, page.query.as_deref().unwrap_or(""));
                (Cow::Owned(subject), value)
            }
            None => (Cow::Borrowed(page.path.as_str()), parsed.path().to_string()),
        }
    } else {
        let normalised = Url::parse(value)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .map(|mut url| {
                url.set_fragment(None);
                String::from(url)
            });
        (
            Cow::Borrowed(page.full.as_str()),
            normalised.unwrap_or_else(|| value.to_string()),
        )
    }
}

pub fn rule_matches(rule: &UrlRule, page: &Page) -> bool {
    let (subject, value) = subject_and_value(page, &rule.value);
    match rule.kind {
        UrlMatch::Equals => *subject == value,
        UrlMatch::Contains => subject.contains(value.as_str()),
        UrlMatch::StartsWith => subject.starts_with(value.as_str()),
    }
}

/// Any include rule matches (or there is none), and no exclude rule does.
pub fn page_admitted(rules: &[UrlRule], page: &Page) -> bool {
    let mut includes = rules.iter().filter(|rule| !rule.exclude).peekable();
    let included = includes.peek().is_none() || includes.any(|rule| rule_matches(rule, page));
    included
        && !rules
            .iter()
            .any(|rule| rule.exclude && rule_matches(rule, page))
}

/// Who the visitor is to the workspace, in this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// This session is verified (the site's backend vouched for the person).
    pub verified: bool,
    /// A person is linked to the visitor (by the email form or a verified session).
    pub known: bool,
}

pub fn audience_admits(audience: Audience, identity: Identity) -> bool {
    match audience {
        Audience::Everyone => true,
        Audience::Unidentified => !identity.verified && !identity.known,
        Audience::Known => identity.known || identity.verified,
        Audience::Verified => identity.verified,
    }
}

/// `starts_at ≤ now < ends_at`, either bound open when absent.
pub fn running(starts_at: Option<i64>, ends_at: Option<i64>, now: i64) -> bool {
    starts_at.is_none_or(|starts_at| starts_at <= now)
        && ends_at.is_none_or(|ends_at| now < ends_at)
}

/// A capture's history with one visitor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// When it was last shown to the visitor (Unix ms).
    pub last_shown: Option<i64>,
    pub dismissed: bool,
    pub replied: bool,
}

/// The visitor's newest page views (Unix ms, newest first), and whether they are all of its
/// page views or only the newest that were read.
#[derive(Debug, Clone, Copy)]
pub struct Views<'a> {
    pub newest_first: &'a [i64],
    pub complete: bool,
}

const VISIT_GAP_MS: i64 = VISIT_GAP_SECS * 1000;

/// Whether a showing at `shown_at` belongs to the visit `now` is part of: no gap of
/// [`VISIT_GAP_SECS`] or more between consecutive page views from it to now. When the views
/// read stop short of `shown_at` without such a gap, what lies between is unknown, and the
/// showing counts as in this visit (not shown again rather than shown twice).
pub fn in_current_visit(shown_at: i64, now: i64, views: Views<'_>) -> bool {
    let mut later = now;
    for &viewed_at in views.newest_first {
        if viewed_at <= shown_at {
            return later - shown_at < VISIT_GAP_MS;
        }
        if later - viewed_at >= VISIT_GAP_MS {
            return false;
        }
        later = later.min(viewed_at);
    }
    if views.complete {
        later - shown_at < VISIT_GAP_MS
    } else {
        true
    }
}

/// The frequency and the minimum gap, given the capture's history with the visitor.
pub fn frequency_allows(
    input: &CaptureWidgetInput,
    seen: Seen,
    views: Views<'_>,
    now: i64,
) -> bool {
    if seen.dismissed || seen.replied {
        return false;
    }
    let Some(last_shown) = seen.last_shown else {
        return true;
    };
    if now - last_shown < i64::from(input.min_gap_secs) * 1000 {
        return false;
    }
    match input.frequency {
        Frequency::OncePerVisitor => false,
        Frequency::OncePerSession => !in_current_visit(last_shown, now, views),
        Frequency::EveryPageView => true,
    }
}

/// An enabled capture widget the page view may be offered, as the store read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub input: CaptureWidgetInput,
    /// Who sends it; `None` when its agent no longer exists (then it is not offered).
    pub sender: Option<OfferSender>,
}

/// The visitor's history with the workspace's captures.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub seen: HashMap<String, Seen>,
    pub views_newest_first: Vec<i64>,
    pub views_complete: bool,
}

impl History {
    fn views(&self) -> Views<'_> {
        Views {
            newest_first: &self.views_newest_first,
            complete: self.views_complete,
        }
    }
}

/// This page view: where, who, when.
#[derive(Debug, Clone)]
pub struct Viewing<'a> {
    pub page: &'a Page,
    pub identity: Identity,
    pub now: i64,
}

/// Everything but the visitor's history: switched on, with a sender, running now, for this
/// visitor and this page. (A page view none of whose candidates passes needs no history.)
pub fn admitted(candidate: &Candidate, viewing: &Viewing<'_>) -> bool {
    let input = &candidate.input;
    input.enabled
        && candidate.sender.is_some()
        && running(input.starts_at, input.ends_at, viewing.now)
        && audience_admits(input.audience, viewing.identity)
        && page_admitted(&input.rules, viewing.page)
}

pub fn eligible(candidate: &Candidate, history: &History, viewing: &Viewing<'_>) -> bool {
    let seen = history.seen.get(&candidate.id).copied().unwrap_or_default();
    admitted(candidate, viewing)
        && frequency_allows(&candidate.input, seen, history.views(), viewing.now)
}

/// The first eligible candidate; `candidates` come in the workspace's order.
pub fn pick<'a>(
    candidates: &'a [Candidate],
    history: &History,
    viewing: &Viewing<'_>,
) -> Option<&'a Candidate> {
    candidates
        .iter()
        .find(|candidate| eligible(candidate, history, viewing))
}

/// The capture's message for this visitor: its merge tags filled in (plain text), trimmed.
/// Should the names make it longer than a message may be, the tags' fallbacks are used.
/// `None` when the stored template doesn't parse or renders blank (saving refuses both).
pub fn message_for(template: &str, person: Option<&PersonSummary>) -> Option<String> {
    let template = GreetingTemplate::parse(template).ok()?;
    let mut message = template.render(person);
    if message.trim().len() > MAX_MESSAGE_BYTES {
        message = template.render(None);
    }
    let message = message.trim();
    (!message.is_empty() && message.len() <= MAX_MESSAGE_BYTES).then(|| message.to_string())
}

/// What the page view is offered: the candidate with its message rendered for the visitor.
pub fn offer(candidate: &Candidate, person: Option<&PersonSummary>) -> Option<CaptureOffer> {
    Some(CaptureOffer {
        id: candidate.id.clone(),
        message: message_for(&candidate.input.message, person)?,
        sender: candidate.sender.clone()?,
        delay_secs: candidate.input.delay_secs,
        display: candidate.input.display,
    })
}

/// The admin's input as stored (name, message and rule values trimmed), or what is wrong with
/// it, naming the field. Whether the sender agent exists is the caller's to check.
pub fn validated(mut input: CaptureWidgetInput) -> Result<CaptureWidgetInput, String> {
    input.name = input.name.trim().to_string();
    let name_chars = input.name.chars().count();
    if name_chars == 0 || name_chars > MAX_CAPTURE_NAME_CHARS {
        return Err(format!(
            "name must be 1 to {MAX_CAPTURE_NAME_CHARS} characters"
        ));
    }
    input.message = input.message.trim().to_string();
    if input.message.is_empty() || input.message.len() > MAX_CAPTURE_MESSAGE_BYTES {
        return Err(format!(
            "message must be 1 to {MAX_CAPTURE_MESSAGE_BYTES} bytes"
        ));
    }
    let template =
        GreetingTemplate::parse(&input.message).map_err(|reason| format!("message: {reason}"))?;
    if template.render(None).trim().is_empty() {
        return Err(
            "message is blank for a visitor without a name: give its merge tags a fallback \
             ({{first_name|there}})"
                .to_string(),
        );
    }
    if let CaptureSender::Agent { agent_id } = &input.sender {
        if agent_id.trim().is_empty() {
            return Err("sender.agent_id must name an agent".to_string());
        }
    }
    if input.rules.len() > MAX_CAPTURE_RULES {
        return Err(format!("rules holds at most {MAX_CAPTURE_RULES} rules"));
    }
    for (index, rule) in input.rules.iter_mut().enumerate() {
        rule.value = rule.value.trim().to_string();
        if rule.value.is_empty() || rule.value.len() > MAX_CAPTURE_RULE_BYTES {
            return Err(format!(
                "rules[{index}].value must be 1 to {MAX_CAPTURE_RULE_BYTES} bytes"
            ));
        }
    }
    if input.delay_secs > MAX_CAPTURE_DELAY_SECS {
        return Err(format!("delay_secs is at most {MAX_CAPTURE_DELAY_SECS}"));
    }
    if let (Some(starts_at), Some(ends_at)) = (input.starts_at, input.ends_at) {
        if ends_at <= starts_at {
            return Err("ends_at must be after starts_at".to_string());
        }
    }
    Ok(input)
}

/// Whether `ids` is exactly `current` in some order: each once, none missing, none other.
pub fn is_reordering(ids: &[String], current: &[String]) -> bool {
    let mut wanted: Vec<&String> = ids.iter().collect();
    let mut have: Vec<&String> = current.iter().collect();
    wanted.sort_unstable();
    have.sort_unstable();
    wanted == have && wanted.windows(2).all(|pair| pair[0] != pair[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::{AuthorKind, CaptureDisplay};

    fn page(url: &str) -> Page {
        Page::parse(url).unwrap_or_else(|| panic!("{url} is a page"))
    }

    fn rule(kind: UrlMatch, value: &str, exclude: bool) -> UrlRule {
        UrlRule {
            kind,
            value: value.to_string(),
            exclude,
        }
    }

    fn include(kind: UrlMatch, value: &str) -> UrlRule {
        rule(kind, value, false)
    }

    fn input() -> CaptureWidgetInput {
        CaptureWidgetInput {
            name: "Pricing help".into(),
            enabled: true,
            message: "Hi {{first_name|there}}, questions about pricing?".into(),
            sender: CaptureSender::Bot,
            rules: Vec::new(),
            delay_secs: 3,
            audience: Audience::Everyone,
            frequency: Frequency::OncePerVisitor,
            min_gap_secs: 0,
            starts_at: None,
            ends_at: None,
            display: CaptureDisplay::Bubble,
        }
    }

    fn bot() -> OfferSender {
        OfferSender {
            kind: AuthorKind::Bot,
            name: "Talk Bot".into(),
            photo_url: None,
        }
    }

    fn candidate(id: &str, input: CaptureWidgetInput) -> Candidate {
        Candidate {
            id: id.into(),
            input,
            sender: Some(bot()),
        }
    }

    const NOW: i64 = 1_800_000_000_000;
    const MINUTE: i64 = 60_000;
    const ANONYMOUS: Identity = Identity {
        verified: false,
        known: false,
    };

    #[test]
    fn pages_are_absolute_http_urls_of_bounded_length() {
        assert!(Page::parse("https://site.example/pricing").is_some());
        assert!(Page::parse(" http://localhost:8080/ ").is_some());
        for bad in [
            "",
            "/pricing",
            "site.example/pricing",
            "ftp://site.example/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://",
        ] {
            assert_eq!(Page::parse(bad), None, "{bad}");
        }
        let long = format!("https://site.example/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(Page::parse(&long), None);
    }

    #[test]
    fn a_path_value_compares_with_the_path_and_its_query_only_when_it_has_one() {
        let pricing = include(UrlMatch::Equals, "/pricing");
        assert!(rule_matches(
            &pricing,
            &page("https://site.example/pricing")
        ));
        assert!(rule_matches(
            &pricing,
            &page("https://site.example/pricing?utm_source=ads#plans")
        ));
        assert!(!rule_matches(&pricing, &page("https://site.example/")));
        assert!(!rule_matches(
            &pricing,
            &page("https://site.example/pricing/")
        ));
        assert!(!rule_matches(
            &pricing,
            &page("https://site.example/Pricing")
        ));
        let pro = include(UrlMatch::Equals, "/pricing?plan=pro");
        assert!(rule_matches(
            &pro,
            &page("https://site.example/pricing?plan=pro")
        ));
        assert!(!rule_matches(&pro, &page("https://site.example/pricing")));
        assert!(!rule_matches(
            &pro,
            &page("https://site.example/pricing?plan=free")
        ));
        let blog = include(UrlMatch::StartsWith, "/blog/");
        assert!(rule_matches(
            &blog,
            &page("https://site.example/blog/launch")
        ));
        assert!(!rule_matches(&blog, &page("https://site.example/blogroll")));
        let docs = include(UrlMatch::Contains, "/api");
        assert!(rule_matches(
            &docs,
            &page("https://site.example/docs/api/v1")
        ));
    }

    #[test]
    fn percent_encoding_is_alike_on_both_sides() {
        let umlaut = include(UrlMatch::Equals, "/über uns");
        assert!(rule_matches(
            &umlaut,
            &page("https://site.example/über uns")
        ));
        assert!(rule_matches(
            &umlaut,
            &page("https://site.example/%C3%BCber%20uns")
        ));
    }

    #[test]
    fn a_url_value_compares_with_the_whole_url_host_case_insensitively() {
        let exact = include(UrlMatch::Equals, "HTTPS://Site.Example/pricing#top");
        assert!(rule_matches(&exact, &page("https://site.example/pricing")));
        assert!(!rule_matches(
            &exact,
            &page("https://site.example/pricing?x=1")
        ));
        assert!(!rule_matches(&exact, &page("http://site.example/pricing")));
        let origin = include(UrlMatch::StartsWith, "https://site.example");
        assert!(rule_matches(
            &origin,
            &page("https://site.example/anything")
        ));
        // The parsed value ends in `/`: another host that merely starts alike is not it.
        assert!(!rule_matches(
            &origin,
            &page("https://site.example.evil.test/")
        ));
        let text = include(UrlMatch::Contains, "utm_source=ads");
        assert!(rule_matches(
            &text,
            &page("https://site.example/?utm_source=ads")
        ));
        assert!(!rule_matches(
            &text,
            &page("https://site.example/?UTM_SOURCE=ADS")
        ));
        // The fragment is never part of the page.
        let fragment = include(UrlMatch::Contains, "plans");
        assert!(!rule_matches(
            &fragment,
            &page("https://site.example/#plans")
        ));
    }

    #[test]
    fn any_include_must_match_and_no_exclude_may() {
        let pricing = page("https://site.example/pricing");
        let home = page("https://site.example/");
        let enterprise = page("https://site.example/pricing/enterprise");
        assert!(page_admitted(&[], &home), "no rule: every page");
        let rules = [
            include(UrlMatch::StartsWith, "/pricing"),
            include(UrlMatch::Equals, "/signup"),
            rule(UrlMatch::Contains, "enterprise", true),
        ];
        assert!(page_admitted(&rules, &pricing));
        assert!(page_admitted(&rules, &page("https://site.example/signup")));
        assert!(!page_admitted(&rules, &home));
        assert!(!page_admitted(&rules, &enterprise));
        let only_exclude = [rule(UrlMatch::Contains, "/checkout", true)];
        assert!(page_admitted(&only_exclude, &home));
        assert!(!page_admitted(
            &only_exclude,
            &page("https://site.example/checkout/pay")
        ));
    }

    #[test]
    fn audiences() {
        let known = Identity {
            verified: false,
            known: true,
        };
        let verified = Identity {
            verified: true,
            known: true,
        };
        let table = [
            (Audience::Everyone, [true, true, true]),
            (Audience::Unidentified, [true, false, false]),
            (Audience::Known, [false, true, true]),
            (Audience::Verified, [false, false, true]),
        ];
        for (audience, admits) in table {
            let got = [ANONYMOUS, known, verified].map(|who| audience_admits(audience, who));
            assert_eq!(got, admits, "{audience:?}");
        }
    }

    #[test]
    fn dates_bound_from_start_inclusive_to_end_exclusive() {
        assert!(running(None, None, NOW));
        assert!(running(Some(NOW), None, NOW));
        assert!(!running(Some(NOW + 1), None, NOW));
        assert!(running(None, Some(NOW + 1), NOW));
        assert!(!running(None, Some(NOW), NOW));
        assert!(running(Some(NOW - 1), Some(NOW + 1), NOW));
    }

    fn complete(newest_first: &[i64]) -> Views<'_> {
        Views {
            newest_first,
            complete: true,
        }
    }

    #[test]
    fn a_visit_ends_after_thirty_minutes_without_a_page_view() {
        let shown = NOW - 40 * MINUTE;
        // Page views every 10 minutes since: the same visit.
        let views = [
            NOW - 5 * MINUTE,
            NOW - 15 * MINUTE,
            NOW - 25 * MINUTE,
            shown,
        ];
        assert!(in_current_visit(shown, NOW, complete(&views)));
        // Nothing since the showing for 40 minutes: a new visit.
        assert!(!in_current_visit(shown, NOW, complete(&[shown])));
        assert!(!in_current_visit(shown, NOW, complete(&[])));
        // A 30-minute gap in between ends it too.
        let gap = [NOW - MINUTE, NOW - 31 * MINUTE - MINUTE / 2, shown];
        assert!(!in_current_visit(shown, NOW, complete(&gap)));
        // Just under the gap stays.
        let recent = NOW - 30 * MINUTE + 1;
        assert!(in_current_visit(recent, NOW, complete(&[])));
        assert!(!in_current_visit(NOW - 30 * MINUTE, NOW, complete(&[])));
        // Views older than the showing don't matter.
        let older = [NOW - 10 * MINUTE, NOW - 50 * MINUTE];
        assert!(in_current_visit(NOW - 20 * MINUTE, NOW, complete(&older)));
    }

    #[test]
    fn views_read_only_in_part_count_as_the_same_visit_when_no_gap_shows() {
        let shown = NOW - 120 * MINUTE;
        let partial = Views {
            newest_first: &[NOW - MINUTE, NOW - 2 * MINUTE],
            complete: false,
        };
        assert!(in_current_visit(shown, NOW, partial));
        let partial_with_gap = Views {
            newest_first: &[NOW - MINUTE, NOW - 40 * MINUTE],
            complete: false,
        };
        assert!(!in_current_visit(shown, NOW, partial_with_gap));
    }

    #[test]
    fn frequencies_and_the_minimum_gap() {
        let never = Seen::default();
        let shown_an_hour_ago = Seen {
            last_shown: Some(NOW - 60 * MINUTE),
            ..Seen::default()
        };
        let shown_just_now = Seen {
            last_shown: Some(NOW - MINUTE),
            ..Seen::default()
        };
        let no_views = complete(&[]);
        let mut once = input();
        once.frequency = Frequency::OncePerVisitor;
        assert!(frequency_allows(&once, never, no_views, NOW));
        assert!(!frequency_allows(&once, shown_an_hour_ago, no_views, NOW));

        let mut per_session = input();
        per_session.frequency = Frequency::OncePerSession;
        assert!(frequency_allows(&per_session, never, no_views, NOW));
        assert!(frequency_allows(
            &per_session,
            shown_an_hour_ago,
            no_views,
            NOW
        ));
        assert!(!frequency_allows(
            &per_session,
            shown_just_now,
            no_views,
            NOW
        ));
        let browsing = [NOW - 10 * MINUTE, NOW - 35 * MINUTE, NOW - 59 * MINUTE];
        assert!(!frequency_allows(
            &per_session,
            shown_an_hour_ago,
            complete(&browsing),
            NOW
        ));

        let mut every = input();
        every.frequency = Frequency::EveryPageView;
        assert!(frequency_allows(&every, shown_just_now, no_views, NOW));
        every.min_gap_secs = 120;
        assert!(!frequency_allows(&every, shown_just_now, no_views, NOW));
        assert!(frequency_allows(&every, shown_an_hour_ago, no_views, NOW));
        per_session.min_gap_secs = 2 * 3600;
        assert!(!frequency_allows(
            &per_session,
            shown_an_hour_ago,
            no_views,
            NOW
        ));
    }

    #[test]
    fn dismissed_or_replied_is_never_again() {
        let mut every = input();
        every.frequency = Frequency::EveryPageView;
        for seen in [
            Seen {
                dismissed: true,
                ..Seen::default()
            },
            Seen {
                replied: true,
                last_shown: Some(NOW - 1000 * MINUTE),
                ..Seen::default()
            },
        ] {
            assert!(
                !frequency_allows(&every, seen, complete(&[]), NOW),
                "{seen:?}"
            );
        }
    }

    #[test]
    fn the_first_eligible_capture_in_order_is_picked() {
        let pricing_page = page("https://site.example/pricing");
        let viewing = Viewing {
            page: &pricing_page,
            identity: ANONYMOUS,
            now: NOW,
        };
        let mut for_known = input();
        for_known.audience = Audience::Known;
        let mut on_pricing = input();
        on_pricing.rules = vec![include(UrlMatch::Equals, "/pricing")];
        let mut switched_off = input();
        switched_off.enabled = false;
        let mut ended = input();
        ended.ends_at = Some(NOW);
        let agent_gone = Candidate {
            sender: None,
            ..candidate("gone", input())
        };
        let everywhere = candidate("everywhere", input());
        let candidates = [
            candidate("off", switched_off),
            candidate("ended", ended),
            agent_gone,
            candidate("known", for_known),
            candidate("pricing", on_pricing),
            everywhere,
        ];
        let mut history = History::default();
        assert_eq!(
            pick(&candidates, &history, &viewing).map(|c| c.id.as_str()),
            Some("pricing")
        );
        history.seen.insert(
            "pricing".into(),
            Seen {
                dismissed: true,
                ..Seen::default()
            },
        );
        assert_eq!(
            pick(&candidates, &history, &viewing).map(|c| c.id.as_str()),
            Some("everywhere")
        );
        let home = page("https://site.example/");
        history.seen.insert(
            "everywhere".into(),
            Seen {
                last_shown: Some(NOW - MINUTE),
                ..Seen::default()
            },
        );
        let at_home = Viewing {
            page: &home,
            ..viewing
        };
        assert_eq!(pick(&candidates, &history, &at_home), None);
    }

    #[test]
    fn the_message_gets_the_visitors_names_or_the_fallbacks() {
        let ann = PersonSummary {
            first_name: Some("Ann".into()),
            ..PersonSummary::default()
        };
        let template = "  Hi {{first_name|there}}, need help?  ";
        assert_eq!(
            message_for(template, Some(&ann)).as_deref(),
            Some("Hi Ann, need help?")
        );
        assert_eq!(
            message_for(template, None).as_deref(),
            Some("Hi there, need help?")
        );
        assert_eq!(message_for("{{first_name}}", None), None);
        assert_eq!(message_for("{{password}}", None), None);
        // Names that would make it too long give way to the fallbacks.
        let huge = PersonSummary {
            first_name: Some("A".repeat(MAX_MESSAGE_BYTES)),
            ..PersonSummary::default()
        };
        assert_eq!(
            message_for("{{first_name|friend}}!", Some(&huge)).as_deref(),
            Some("friend!")
        );
        let offered = offer(&candidate("c1", input()), Some(&ann)).unwrap();
        assert_eq!(offered.message, "Hi Ann, questions about pricing?");
        assert_eq!((offered.delay_secs, offered.sender), (3, bot()));
    }

    #[test]
    fn what_an_admin_may_save() {
        let saved = validated(CaptureWidgetInput {
            name: "  Pricing  ".into(),
            rules: vec![include(UrlMatch::Equals, " /pricing ")],
            ..input()
        })
        .unwrap();
        assert_eq!(saved.name, "Pricing");
        assert_eq!(saved.rules[0].value, "/pricing");

        let refused: Vec<(CaptureWidgetInput, &str)> = vec![
            (
                CaptureWidgetInput {
                    name: " ".into(),
                    ..input()
                },
                "name",
            ),
            (
                CaptureWidgetInput {
                    name: "n".repeat(MAX_CAPTURE_NAME_CHARS + 1),
                    ..input()
                },
                "name",
            ),
            (
                CaptureWidgetInput {
                    message: "  ".into(),
                    ..input()
                },
                "message",
            ),
            (
                CaptureWidgetInput {
                    message: "m".repeat(MAX_CAPTURE_MESSAGE_BYTES + 1),
                    ..input()
                },
                "message",
            ),
            (
                CaptureWidgetInput {
                    message: "Hi {{first_name".into(),
                    ..input()
                },
                "message",
            ),
            (
                CaptureWidgetInput {
                    message: "{{first_name}}".into(),
                    ..input()
                },
                "message",
            ),
            (
                CaptureWidgetInput {
                    sender: CaptureSender::Agent {
                        agent_id: " ".into(),
                    },
                    ..input()
                },
                "sender.agent_id",
            ),
            (
                CaptureWidgetInput {
                    rules: vec![include(UrlMatch::Contains, "x"); MAX_CAPTURE_RULES + 1],
                    ..input()
                },
                "rules",
            ),
            (
                CaptureWidgetInput {
                    rules: vec![include(UrlMatch::Contains, "  ")],
                    ..input()
                },
                "rules[0].value",
            ),
            (
                CaptureWidgetInput {
                    rules: vec![include(
                        UrlMatch::Contains,
                        &"x".repeat(MAX_CAPTURE_RULE_BYTES + 1),
                    )],
                    ..input()
                },
                "rules[0].value",
            ),
            (
                CaptureWidgetInput {
                    delay_secs: MAX_CAPTURE_DELAY_SECS + 1,
                    ..input()
                },
                "delay_secs",
            ),
            (
                CaptureWidgetInput {
                    starts_at: Some(NOW),
                    ends_at: Some(NOW),
                    ..input()
                },
                "ends_at",
            ),
        ];
        for (bad, field) in refused {
            let reason = validated(bad.clone()).expect_err(field);
            assert!(reason.starts_with(field), "{reason} names {field}");
        }
    }

    #[test]
    fn a_reordering_names_every_id_once() {
        let current = ["a", "b", "c"].map(String::from);
        let ids = |list: &[&str]| list.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        assert!(is_reordering(&ids(&["c", "a", "b"]), &current));
        assert!(!is_reordering(&ids(&["a", "b"]), &current));
        assert!(!is_reordering(&ids(&["a", "b", "c", "d"]), &current));
        assert!(!is_reordering(&ids(&["a", "a", "b"]), &current));
        assert!(!is_reordering(&ids(&["a", "b", "x"]), &current));
        assert!(is_reordering(&[], &[]));
    }
}
