//! The HTTP API, on actix-web in the same actix System: `/metrics`, `/v1/nodes` (every node;
//! with `?state=&match=&sort=&limit=&offset=` a bounded page, see [`crate::http::fleet`]),
//! `/v1/summary`, `/v1/nodes/{id}`, `/v1/events?since=N`, `/healthz`, and from the store (`--db`)
//! `/v1/history?node=&since=` and `/v1/nodes/{id}/readings?probe=&since=`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use serde::Deserialize;

use crate::http::fleet::{self, PageQuery};
use crate::http::metrics;
use crate::http::views::{NodeView, Snapshot};
use crate::runtime::detector::{DetectorActor, GetNode, GetSnapshot};
use crate::runtime::record::EventRecord;
use crate::runtime::stats::Stats;

/// How long stopping the server lets requests in flight finish: HTTP's share of
/// [`crate::runtime::wiring::SHUTDOWN_BUDGET`].
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct HttpState {
    /// Every Detector (the main one first), asked for snapshots; their nodes and counters
    /// are merged.
    pub(crate) detectors: Vec<Addr<DetectorActor>>,
    /// Counters and recent events.
    pub(crate) stats: Arc<Stats>,
    /// The store, if any (history and readings are read from it).
    pub(crate) db: Option<std::path::PathBuf>,
}

/// How long a handler waits for the Detector before answering 503.
const DETECTOR_WAIT: Duration = Duration::from_secs(5);

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(serde_json::json!({"error": "detector not responding"}))
}

/// Every Detector's snapshot, merged.
async fn snapshot(state: &HttpState) -> Result<Snapshot, actix::MailboxError> {
    let mut merged: Option<Snapshot> = None;
    for d in &state.detectors {
        let s = d.send(GetSnapshot).timeout(DETECTOR_WAIT).await?;
        match &mut merged {
            Some(m) => m.merge(s),
            None => merged = Some(s),
        }
    }
    Ok(merged.unwrap_or_default())
}

/// Node `id`, from the first Detector that has it.
async fn find(state: &HttpState, id: &str) -> Result<Option<NodeView>, actix::MailboxError> {
    for d in &state.detectors {
        if let Some(n) = d
            .send(GetNode(id.to_owned()))
            .timeout(DETECTOR_WAIT)
            .await?
        {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// `/metrics`: text format 0.0.4 or OpenMetrics as `Accept` asks; 200 with `hbnode_ready 0`
/// and the process-wide counters when a Detector does not answer (see [`crate::http::metrics`]).
async fn metrics(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect();
    let format = metrics::negotiate((!accept.is_empty()).then(|| accept.join(",")).as_deref());
    let snap = snapshot(&state).await.ok();
    let scrape = metrics::Scrape {
        snapshot: snap.as_ref(),
        stats: &state.stats,
        kernel_drops: metrics::receive_buffer_drops(&state.stats.udp_sockets()),
        version: env!("CARGO_PKG_VERSION"),
    };
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::VARY, "Accept"))
        .body(metrics::render(&scrape, format))
}

/// `/v1/nodes`: without parameters every node (as it always was, for `hbnode status` and
/// scripts); with any, one bounded page and the counts (400 on a bad parameter).
async fn nodes(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    let query = if req.query_string().is_empty() {
        None
    } else {
        let parsed = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|e| format!("cannot decode the query string: {e}"))
            .and_then(|pairs| PageQuery::parse(&pairs).map_err(|e| e.to_string()));
        match parsed {
            Ok(q) => Some(q),
            Err(e) => return bad_request(e),
        }
    };
    match snapshot(&state).await {
        Ok(snap) => match query {
            None => HttpResponse::Ok().json(snap.nodes),
            Some(q) => HttpResponse::Ok().json(fleet::page(&snap, &q)),
        },
        Err(_) => unavailable(),
    }
}

/// `/v1/summary`: counts by node state and probe state.
async fn summary(state: web::Data<HttpState>) -> HttpResponse {
    match snapshot(&state).await {
        Ok(snap) => HttpResponse::Ok().json(fleet::summary(&snap)),
        Err(_) => unavailable(),
    }
}

async fn node(state: web::Data<HttpState>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    match find(&state, &id).await {
        Ok(Some(n)) => HttpResponse::Ok().json(n),
        Ok(None) => {
            HttpResponse::NotFound().json(serde_json::json!({"error": format!("no node `{id}`")}))
        }
        Err(_) => unavailable(),
    }
}

#[derive(Debug, Deserialize)]
struct Since {
    since: Option<u64>,
}

async fn events(state: web::Data<HttpState>, q: web::Query<Since>) -> HttpResponse {
    let events = state.stats.recent_since(q.since.unwrap_or(0));
    let events: Vec<&EventRecord> = events.iter().map(|r| &**r).collect();
    let last = events.last().map(|r| r.event_id).or(q.since).unwrap_or(0);
    HttpResponse::Ok().json(serde_json::json!({ "events": events, "last_event_id": last }))
}

/// `?node=&since=` of `/v1/history`, `?probe=&since=` of `/v1/nodes/{id}/readings`.
#[derive(Debug, Deserialize)]
struct StoreQuery {
    node: Option<String>,
    probe: Option<String>,
    since: Option<String>,
}

fn bad_request(msg: String) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({ "error": msg }))
}

/// Runs `f` on a read-only connection to the store in a blocking task (never in the Detector).
async fn from_store<T: serde::Serialize + Send + 'static>(
    state: &HttpState,
    since: Option<&str>,
    default_since: Duration,
    f: impl FnOnce(&rusqlite::Connection, i64) -> rusqlite::Result<T> + Send + 'static,
) -> HttpResponse {
    let Some(db) = state.db.clone() else {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"error": "this monitor keeps no store (--db none)"}));
    };
    let since = match since.map(crate::cli::values::parse_duration).transpose() {
        Ok(d) => d.unwrap_or(default_since),
        Err(e) => return bad_request(format!("since: {e}")),
    };
    let since_ms = crate::store::ms_ago(since);
    match web::block(move || crate::store::query::with_db(&db, |c| f(c, since_ms))).await {
        Ok(Ok(rows)) => HttpResponse::Ok().json(rows),
        Ok(Err(e)) => {
            HttpResponse::InternalServerError().json(serde_json::json!({"error": format!("{e:#}")}))
        }
        Err(_) => unavailable(),
    }
}

async fn history(state: web::Data<HttpState>, q: web::Query<StoreQuery>) -> HttpResponse {
    let q = q.into_inner();
    let node = q.node;
    from_store(
        &state,
        q.since.as_deref(),
        Duration::from_secs(86_400),
        move |c, since| crate::store::query::history(c, node.as_deref(), since),
    )
    .await
}

async fn readings(
    state: web::Data<HttpState>,
    id: web::Path<String>,
    q: web::Query<StoreQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    let Some(probe) = q.probe else {
        return bad_request("give ?probe=NAME".into());
    };
    let node = id.into_inner();
    from_store(
        &state,
        q.since.as_deref(),
        Duration::from_secs(3600),
        move |c, since| crate::store::query::readings(c, &node, &probe, since),
    )
    .await
}

async fn healthz(state: web::Data<HttpState>) -> HttpResponse {
    match find(&state, "").await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(_) => unavailable(),
    }
}

/// Binds and starts the server on the current actix System; returns its handle and address.
pub(crate) fn start(
    addr: SocketAddr,
    state: HttpState,
) -> anyhow::Result<(ServerHandle, SocketAddr)> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(metrics))
            .route("/v1/nodes", web::get().to(nodes))
            .route("/v1/summary", web::get().to(summary))
            .route("/v1/nodes/{id}", web::get().to(node))
            .route("/v1/nodes/{id}/readings", web::get().to(readings))
            .route("/v1/history", web::get().to(history))
            .route("/v1/events", web::get().to(events))
            .route("/healthz", web::get().to(healthz))
            .route("/", web::get().to(crate::http::page::index))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_WAIT.as_secs())
    .bind(addr)
    .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
    let bound = server.addrs().first().copied().unwrap_or(addr);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok((handle, bound))
}
