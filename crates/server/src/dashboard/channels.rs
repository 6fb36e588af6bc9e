//! Settings › Sales Channels: the merchant's connections, adding one through the provider's
//! consent page, and per connection a Status tab (test, sync progress), a Settings tab
//! (account, location mapping, reconnect, delete) and the integration log.

use super::form::Problems;
use super::{at, merchant_page, DashForm, Done, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use tillbridge_engine::connections::ConnectionView;
use tillbridge_engine::merchants::Merchant;
use tillbridge_engine::EngineError;
use tillbridge_model::Series;

/// What the pages say after a form sent the browser back to them.
const NOTICES: &[(&str, &str)] = &[
    (
        "connected",
        "Connected. Map your locations on the Settings tab to start syncing.",
    ),
    (
        "onboarded",
        "Setup finished. Every step can be changed later from the navigation above.",
    ),
    ("tested", "Connection test succeeded."),
    (
        "sync",
        "Sync scheduled: every stream of this connection runs now.",
    ),
    ("mapped", "Location mapped. Its orders start syncing now."),
    (
        "deleted",
        "Connection deleted. Its credentials are erased and its synced history is kept.",
    ),
];

/// A connection as pickers name it: the platform, and the account when it is known.
pub(crate) fn channel_label(series: &str, account_name: Option<&str>) -> String {
    match account_name {
        Some(account) => format!("{} · {account}", series_name(series)),
        None => series_name(series).to_owned(),
    }
}

/// Every connection of the merchant by id, labelled as [`channel_label`] does.
pub(crate) async fn channel_labels(
    s: &AppState,
    merchant_id: &str,
) -> Result<HashMap<String, String>, Page> {
    Ok(s.engine
        .connection_summaries(merchant_id)
        .await?
        .into_iter()
        .map(|c| {
            let label = channel_label(&c.series, c.account_name.as_deref());
            (c.id, label)
        })
        .collect())
}

pub(crate) fn series_name(series: &str) -> &'static str {
    match series {
        "k" => "Lightspeed K-Series (Restaurant)",
        "x" => "Lightspeed X-Series (Retail)",
        "r" => "Lightspeed R-Series (Retail)",
        "o" => "Lightspeed O-Series (Restaurant)",
        _ => "Lightspeed",
    }
}

fn status_name(status: &str) -> &'static str {
    match status {
        "connected" => "Connected",
        "needs_reauth" => "Needs re-authorization",
        "error" => "Error",
        "disabled" => "Disconnected",
        "pending" => "Waiting for sign-in",
        _ => "Unknown",
    }
}

fn badge(status: &str) -> Markup {
    html! { span class={ "badge " (status) } data-status=(status) { (status_name(status)) } }
}

fn page(viewer: &Viewer, merchant: &Merchant, title: &str, body: Markup) -> Response {
    merchant_page(viewer, merchant, "channels", StatusCode::OK, title, body)
}

pub async fn list(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let connections = s.engine.connections(&merchant_id).await?;
    let body = html! {
        h1 { "Sales Channels" }
        (done.show(NOTICES))
        p { a #add-channel href=(format!("/merchants/{merchant_id}/channels/new")) { button.primary type="button" { "Add Channel" } } }
        @if connections.is_empty() {
            div.card #onboarding {
                h2 { "Connect Sales Channel" }
                p { "Connect the point of sale your orders come from. You sign in at Lightspeed and approve access; there is nothing to copy or paste." }
                p {
                    a href=(format!("/merchants/{merchant_id}/channels/new")) { "Connect a sales channel" }
                    " or "
                    a #start-setup href=(format!("/merchants/{merchant_id}/onboarding")) { "set up step by step" }
                }
            }
        }
        div.cards #connections {
            @for c in &connections {
                div.card.connection data-connection=(c.id) {
                    strong { (series_name(&c.series)) }
                    div { (badge(&c.status)) }
                    div.muted { (c.account_name.as_deref().or(c.account_id.as_deref()).unwrap_or("account not known yet")) }
                    div.muted {
                        "Last checked: "
                        (c.last_checked_at.map_or_else(|| "never".to_owned(), |t| at(t, &merchant.timezone)))
                    }
                    div.muted { (c.orders_synced) " orders synced" }
                    p { a href=(format!("/merchants/{merchant_id}/channels/{}", c.id)) { "Open" } }
                }
            }
        }
    };
    Ok(page(&viewer, &merchant, "Sales Channels", body))
}

/// Add Channel: pick the platform.
pub async fn pick(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let body = html! {
        h1 { "Add Channel" }
        p.muted { "Pick your point of sale. You will sign in at Lightspeed, approve access and come back here." }
        div.platforms {
            @for series in [Series::K, Series::X, Series::R, Series::O] {
                form.card method="post" action=(format!("/merchants/{merchant_id}/channels/connect")) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="series" value=(series.as_str());
                    p { strong { (series_name(series.as_str())) } }
                    button.primary type="submit" data-series=(series.as_str()) { "Connect" }
                }
            }
            @for later in ["Shopify", "BigCommerce"] {
                div.card.later {
                    p { strong { (later) } }
                    button type="button" disabled { "Coming later" }
                }
            }
        }
    };
    Ok(page(&viewer, &merchant, "Add Channel", body))
}

#[derive(Deserialize)]
pub struct Connect {
    #[serde(default)]
    series: String,
}

/// Starts the OAuth flow and sends the browser to the provider's consent page.
pub async fn connect(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(form): DashForm<Connect>,
) -> Result<Response, Page> {
    viewer.merchant(&s, &merchant_id).await?;
    let series: Series =
        form.series
            .parse()
            .map_err(|e: tillbridge_model::series::UnknownSeries| {
                Page::error(StatusCode::BAD_REQUEST, "Not done", &e.to_string())
            })?;
    let start = s.engine.start_connect(&merchant_id, series, None).await?;
    Ok(Redirect::to(&start.authorize_url).into_response())
}

async fn connection(
    s: &AppState,
    viewer: &Viewer,
    merchant_id: &str,
    connection_id: &str,
) -> Result<(Merchant, ConnectionView), Page> {
    let merchant = viewer.merchant(s, merchant_id).await?;
    let view = s.engine.connection(merchant_id, connection_id).await?;
    Ok((merchant, view))
}

fn tabs(merchant_id: &str, c: &ConnectionView, open: &str) -> Markup {
    let base = format!("/merchants/{merchant_id}/channels/{}", c.id);
    html! {
        p { a href=(format!("/merchants/{merchant_id}/channels")) { "← Sales Channels" } }
        h1 { (series_name(&c.series)) " " (badge(&c.status)) }
        nav.tabs {
            a #tab-status href=(base) class=[(open == "status").then_some("open")] { "Status" }
            a #tab-settings href=(format!("{base}/settings")) class=[(open == "settings").then_some("open")] { "Settings" }
            a #tab-log href=(format!("{base}/log")) class=[(open == "log").then_some("open")] { "Integration log" }
        }
    }
}

fn status_body(
    merchant: &Merchant,
    viewer: &Viewer,
    c: &ConnectionView,
    done: &Done,
    problem: Option<&str>,
) -> Markup {
    let base = format!("/merchants/{}/channels/{}", merchant.id, c.id);
    html! {
        (tabs(&merchant.id, c, "status"))
        (done.show(NOTICES))
        @if let Some(problem) = problem {
            p.problem #problem role="alert" { (problem) }
        }
        div.card {
            table {
                tr { th { "Status" } td #status { (status_name(&c.status)) } }
                tr { th { "Last checked" } td #last-checked { (c.last_checked_at.map_or_else(|| "never".to_owned(), |t| at(t, &merchant.timezone))) } }
                @if let Some(e) = &c.last_error { tr { th { "Last error" } td #last-error { (e) } } }
                tr { th { "Account" } td { (c.account_name.as_deref().unwrap_or("—")) " " span.muted { (c.account_id.as_deref().unwrap_or("")) } } }
                tr { th { "Scopes" } td { (c.scopes.as_deref().unwrap_or("—")) } }
                tr { th { "Connected" } td { (at(c.created_at, &merchant.timezone)) } }
            }
            p {
                form.inline method="post" action=(format!("{base}/test")) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    button #test-connection type="submit" { "Test Connection" }
                }
                " "
                form.inline method="post" action=(format!("{base}/sync")) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    button #sync-now type="submit" disabled[c.status != "connected"] { "Sync now" }
                }
                @if c.status == "needs_reauth" || c.status == "error" || c.status == "disabled" {
                    " "
                    form.inline method="post" action=(format!("{base}/reconnect")) {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        button.primary type="submit" { "Reconnect" }
                    }
                }
            }
        }
        h2 { "Sync progress" }
        @if c.streams.is_empty() {
            p.muted #no-streams { "Nothing syncs yet: map a location on the Settings tab." }
        } @else {
            table #streams {
                tr { th { "Stream" } th { "State" } th { "Progress" } th { "Orders" } th { "Next run" } th { "Problem" } }
                @for st in &c.streams {
                    tr {
                        td { (st.kind) " " span.muted { (st.stream) } }
                        td { (st.state) @if let Some(p) = &st.phase { " (" (p) ")" } }
                        td {
                            @if let Some(total) = st.progress_total.filter(|t| *t > 0) {
                                progress max=(total) value=(st.progress_done.min(total)) {}
                                " " (st.progress_done.min(total) * 100 / total) " %"
                            } @else { "—" }
                        }
                        td { (st.orders_seen) }
                        td { (at(st.next_run_at, &merchant.timezone)) }
                        td { (st.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

pub async fn status(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Response, Page> {
    let (merchant, c) = connection(&s, &viewer, &merchant_id, &connection_id).await?;
    let body = status_body(&merchant, &viewer, &c, &done, None);
    Ok(page(&viewer, &merchant, "Connection status", body))
}

/// Test Connection: a cheap authenticated call, its result recorded on the connection.
pub async fn test(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    match s.engine.test_connection(&merchant_id, &connection_id).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/merchants/{merchant_id}/channels/{connection_id}?done=tested"
        ))
        .into_response()),
        Err(
            e @ (EngineError::Provider(_) | EngineError::NeedsReauth(_) | EngineError::Disabled(_)),
        ) => {
            let c = s.engine.connection(&merchant_id, &connection_id).await?;
            let problem = format!("Connection test failed: {e}");
            let body = status_body(&merchant, &viewer, &c, &Done::default(), Some(&problem));
            Ok(page(&viewer, &merchant, "Connection status", body))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn sync_now(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    viewer.merchant(&s, &merchant_id).await?;
    s.engine.sync_now(&merchant_id, &connection_id).await?;
    Ok(Redirect::to(&format!(
        "/merchants/{merchant_id}/channels/{connection_id}?done=sync"
    ))
    .into_response())
}

pub async fn reconnect(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let (_, c) = connection(&s, &viewer, &merchant_id, &connection_id).await?;
    let series: Series =
        c.series
            .parse()
            .map_err(|e: tillbridge_model::series::UnknownSeries| {
                Page::error(StatusCode::CONFLICT, "Not done", &e.to_string())
            })?;
    let start = s
        .engine
        .start_connect(&merchant_id, series, Some(&connection_id))
        .await?;
    Ok(Redirect::to(&start.authorize_url).into_response())
}

fn settings_body(
    merchant: &Merchant,
    viewer: &Viewer,
    c: &ConnectionView,
    locations: &[tillbridge_engine::merchants::Location],
    done: &Done,
    problems: &Problems,
) -> Markup {
    let base = format!("/merchants/{}/channels/{}", merchant.id, c.id);
    html! {
        (tabs(&merchant.id, c, "settings"))
        (done.show(NOTICES))
        div.card {
            table {
                tr { th { "Platform" } td { (series_name(&c.series)) } }
                tr { th { "Business / account id" } td #account-id { (c.account_id.as_deref().unwrap_or("not known yet: use Reconnect")) } }
                tr { th { "Account name" } td { (c.account_name.as_deref().unwrap_or("—")) } }
                tr { th { "Signed in with" } td { (if c.auth_kind == "personal_token" { "a personal token" } else { "OAuth" }) } }
            }
            form.inline method="post" action=(format!("{base}/reconnect")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                p { button #reconnect type="submit" { "Reconnect" } " " span.muted { "Sign in at Lightspeed again; this connection and its data stay." } }
            }
        }
        h2 { "Location mapping" }
        @if c.pos_locations.is_empty() {
            p.muted { "Lightspeed has listed no locations for this account yet." }
        } @else if locations.is_empty() {
            p.muted { "This merchant has no tillbridge locations to map to yet; create them with the API." }
        } @else {
            table #mapping {
                tr { th { "POS location" } th { "Zone" } th { "tillbridge location" } }
                @for p in &c.pos_locations {
                    tr data-pos-location=(p.id) {
                        td { (p.name) " " span.muted { (p.id) } }
                        td { (p.timezone.as_deref().unwrap_or("—")) }
                        td {
                            form.inline method="post" action=(format!("{base}/map")) {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                input type="hidden" name="pos_location_id" value=(p.id);
                                select name="location_id" aria-label=(format!("tillbridge location for {}", p.name)) aria-invalid=[problems.invalid(&format!("map-{}", p.id))] {
                                    option value="" selected[p.location_id.is_none()] { "not mapped" }
                                    @for l in locations {
                                        option value=(l.id) selected[p.location_id.as_deref() == Some(l.id.as_str())] { (l.name) }
                                    }
                                }
                                " "
                                button type="submit" { "Save" }
                            }
                            (problems.show(&format!("map-{}", p.id)))
                        }
                    }
                }
            }
        }
        h2 { "Delete connection" }
        div.card #delete {
            p { "Deleting stops all data flow from this connection and erases its credentials. Orders already synced are kept; reconnecting later resumes." }
            form method="post" action=(format!("{base}/delete")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="confirm" { "Type " code { "Lightspeed" } " to confirm" }
                input #confirm type="text" name="confirm" autocomplete="off" aria-invalid=[problems.invalid("confirm")];
                (problems.show("confirm"))
                p { button.danger #delete-connection type="submit" disabled[c.status == "disabled"] { "Delete" } }
            }
        }
    }
}

pub async fn settings(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Response, Page> {
    let (merchant, c) = connection(&s, &viewer, &merchant_id, &connection_id).await?;
    let locations = s.engine.locations(&merchant_id).await?;
    let body = settings_body(
        &merchant,
        &viewer,
        &c,
        &locations,
        &done,
        &Problems::default(),
    );
    Ok(page(&viewer, &merchant, "Connection settings", body))
}

#[derive(Deserialize)]
pub struct Map {
    #[serde(default)]
    pos_location_id: String,
    #[serde(default)]
    location_id: String,
}

/// Maps a POS location; a refusal shows beside that location's row and changes nothing.
pub async fn map(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
    DashForm(form): DashForm<Map>,
) -> Result<Response, Page> {
    let (merchant, c) = connection(&s, &viewer, &merchant_id, &connection_id).await?;
    if !c.pos_locations.iter().any(|p| p.id == form.pos_location_id) {
        return Err(Page::error(
            StatusCode::BAD_REQUEST,
            "Not done",
            &format!(
                "`{}` is not a location of this connection; reload the page and pick again.",
                form.pos_location_id
            ),
        ));
    }
    let field = format!("map-{}", form.pos_location_id);
    let mut problems = Problems::default();
    if form.location_id.is_empty() {
        problems.add(
            &field,
            "Pick the tillbridge location this POS location belongs to; a mapping cannot be removed, only changed.",
        );
    } else {
        match s
            .engine
            .map_location(
                &merchant_id,
                &form.location_id,
                &connection_id,
                &form.pos_location_id,
            )
            .await
        {
            Ok(_) => {
                return Ok(Redirect::to(&format!(
                    "/merchants/{merchant_id}/channels/{connection_id}/settings?done=mapped"
                ))
                .into_response())
            }
            Err(EngineError::Invalid(m) | EngineError::Conflict(m)) => problems.add(&field, m),
            Err(e) => return Err(Page::from(e)),
        }
    }
    refused_settings(&s, &viewer, &merchant, &c, &problems).await
}

/// The Settings tab again with what was refused beside its field (status 400).
async fn refused_settings(
    s: &AppState,
    viewer: &Viewer,
    merchant: &Merchant,
    c: &ConnectionView,
    problems: &Problems,
) -> Result<Response, Page> {
    let locations = s.engine.locations(&merchant.id).await?;
    let body = settings_body(merchant, viewer, c, &locations, &Done::default(), problems);
    let status = StatusCode::BAD_REQUEST;
    Ok(merchant_page(
        viewer,
        merchant,
        "channels",
        status,
        "Connection settings",
        body,
    ))
}

#[derive(Deserialize)]
pub struct Delete {
    #[serde(default)]
    confirm: String,
}

/// Delete with the typed confirmation; a wrong confirmation shows the form again with the
/// reason, and changes nothing.
pub async fn delete(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
    DashForm(form): DashForm<Delete>,
) -> Result<Response, Page> {
    let (merchant, c) = connection(&s, &viewer, &merchant_id, &connection_id).await?;
    if form.confirm.trim() != "Lightspeed" {
        let mut problems = Problems::default();
        problems.add(
            "confirm",
            if form.confirm.trim().is_empty() {
                "Type Lightspeed in the box to confirm the deletion."
            } else {
                "That is not Lightspeed: type the word Lightspeed exactly to confirm."
            },
        );
        return refused_settings(&s, &viewer, &merchant, &c, &problems).await;
    }
    s.engine
        .disconnect(&merchant_id, &connection_id, &form.confirm)
        .await?;
    Ok(Redirect::to(&format!("/merchants/{merchant_id}/channels?done=deleted")).into_response())
}

pub async fn log(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let (merchant, c) = connection(&s, &viewer, &merchant_id, &connection_id).await?;
    let entries = s
        .engine
        .connection_log(&merchant_id, &connection_id)
        .await?;
    let body = html! {
        (tabs(&merchant_id, &c, "log"))
        @if entries.is_empty() {
            p.muted { "Nothing logged yet." }
        } @else {
            table #log {
                tr { th { "When" } th { "Level" } th { "What happened" } th { "Times" } }
                @for e in &entries {
                    tr {
                        td {
                            (at(e.last_at, &merchant.timezone))
                            @if e.count > 1 { br; span.muted { "since " (at(e.first_at, &merchant.timezone)) } }
                        }
                        td { (e.level) }
                        td { (e.message) }
                        td { (e.count) }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, &merchant, "Integration log", body))
}
