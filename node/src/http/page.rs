//! The status page at `GET /`: one self-contained HTML document (inline CSS and JS, no external
//! assets, so it works offline) that polls `/v1/nodes` and `/v1/events?since=` every second and
//! redraws without a reload. Each node is a `<tr data-node=ID data-state=STATE>`; down nodes
//! sort first and are highlighted.

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
        assert!(PAGE.contains("v1/nodes") && PAGE.contains("v1/events?since="));
        assert!(PAGE.contains("dataset.state"));
    }
}
