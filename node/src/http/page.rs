//! The status page at `GET /`: one self-contained HTML document (inline CSS, JS and SVG, no
//! external assets, so it works offline) that stays usable at 10k nodes and beyond.
//!
//! What it shows: counts by node state (buttons that filter) and by probe state; a filter box
//! (an id substring, or a glob with `*`/`?`) and a state selector, debounced and kept in the URL
//! (`/?q=web-9&state=down`, so a filtered view can be linked); one page of at most 100 nodes,
//! down first (the order of [`crate::http::views::state_rank`], where any future state such as
//! `unreachable` must be placed), each with its probes as text badges (`load1 warning`); an
//! events timeline (inline SVG: events per kind in 60 time buckets, from the recent-events ring
//! `/v1/events`, with a legend of totals); and the latest events as a list. Each node is a
//! `<tr data-node=ID data-state=STATE>` in a semantic table; state is always text, colour only
//! repeats it.
//!
//! # Why a bounded server-side page
//!
//! Every second the page sends two requests: `/v1/nodes?sort=state&limit=100&offset=…` (one
//! page plus the fleet's counts, see [`crate::http::fleet`]) and `/v1/events?since=N` (only the
//! events after the last one it has). Both are bounded whatever the fleet's size: ≤ 100 rows and
//! ≤ the ring's 1024 events. Filtering and sorting happen in the handler, on the snapshot it
//! takes anyway. A change cursor ("nodes changed since N") was considered and rejected: every
//! alive node's silence and detector value change between any two refreshes, so "what changed"
//! is the whole fleet unless the client recomputes those (it could, from `last_seen_unix`), and
//! even then a correlated fault (a rack goes down) changes thousands of rows at once, so a
//! cursor's answer is unbounded exactly when the page matters most; it also forces the server to
//! keep per-node change sequence numbers. A page's cost is fixed: its size does not depend on
//! how many nodes changed or exist.
//!
//! # Rendering
//!
//! Rows are kept by node id and reused: a refresh writes only the cells whose text changed,
//! rebuilds a node's badges only when its probe names or states changed, moves a row only when
//! its position changed, and forces layout once. The chart is redrawn only when events arrived
//! (or every 5 s, as time moves on). `document.body` carries `data-refreshes` and
//! `data-render-ms` (the last 60 render times, measured with `performance.now()` from the
//! responses' text to the laid-out page) for `cargo xtask bench page`.

use actix_web::HttpResponse;
use actix_web::http::header;

/// The page, embedded in the binary.
const PAGE: &str = include_str!("page.html");

/// `GET /`.
pub(crate) async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ))
        .body(PAGE)
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    #[test]
    fn page_is_self_contained_and_polls_the_api() {
        for external in ["http://", "https://", "src=\"", "href=\""] {
            assert!(
                !PAGE.contains(external),
                "external asset `{external}` in page.html"
            );
        }
        assert!(PAGE.contains("v1/nodes?") && PAGE.contains("v1/events?since="));
        assert!(PAGE.contains("dataset.state") && PAGE.contains("limit: String(PAGE)"));
        assert!(PAGE.contains("<svg id=\"timeline\""));
    }
}
