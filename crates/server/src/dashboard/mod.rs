//! The merchant dashboard: server-rendered HTML under `/`, signed in with a dashboard user's
//! e-mail and password.
//!
//! - Sessions live in an HttpOnly, SameSite=Strict cookie (Secure when the public URL is
//!   https); the database keeps only the token's hash.
//! - Every POST carries a form token. One middleware checks it for every form route (the
//!   session's derived token, or before sign-in a double-submit cookie), so no handler can
//!   forget it.
//! - A merchant's user sees only that merchant; another merchant's pages answer 404, as an
//!   unknown merchant does.
//! - Pages never show a token or secret: they render views that hold none.
//!
//! Pages: sign-in, the merchants (administrators), Get started (first-run steps), Settings ›
//! Sales Channels, Members,
//! Loyalty program, Insights, Weekly balance and Tools › Import POS, Orders.

mod auth;
mod catalog;
mod channels;
mod charts;
mod financials;
mod insights;
mod labor;
mod members;
mod onboarding;
mod orders;
mod program;

use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use subtle::ConstantTimeEq;
use tillbridge_engine::merchants::Merchant;
use tillbridge_engine::users::csrf_token;
use tillbridge_engine::EngineError;
use tillbridge_store::dashboard::UserRow;

pub(crate) const SESSION_COOKIE: &str = "tb_session";
/// The double-submit token of the sign-in form (there is no session yet to derive one from).
pub(crate) const LOGIN_COOKIE: &str = "tb_login";
/// Largest form the dashboard reads.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub fn routes(state: AppState) -> Router<AppState> {
    let forms = Router::new()
        .route("/login", post(auth::sign_in))
        .route("/logout", post(auth::sign_out))
        .route(
            "/merchants/{merchant_id}/channels/connect",
            post(channels::connect),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/test",
            post(channels::test),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/sync",
            post(channels::sync_now),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/reconnect",
            post(channels::reconnect),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/map",
            post(channels::map),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/delete",
            post(channels::delete),
        )
        .route(
            "/merchants/{merchant_id}/onboarding/{step}",
            post(onboarding::decide),
        )
        .route(
            "/merchants/{merchant_id}/labor/settings",
            post(labor::save_settings),
        )
        .route(
            "/merchants/{merchant_id}/labor/departments",
            post(labor::create_department),
        )
        .route(
            "/merchants/{merchant_id}/labor/departments/{department_id}",
            post(labor::update_department),
        )
        .route(
            "/merchants/{merchant_id}/labor/departments/{department_id}/days/{date}/confirm",
            post(labor::confirm_day),
        )
        .route(
            "/merchants/{merchant_id}/labor/departments/{department_id}/days/{date}/reopen",
            post(labor::reopen_day),
        )
        .route(
            "/merchants/{merchant_id}/labor/import",
            post(labor::run_import),
        )
        .route(
            "/merchants/{merchant_id}/loyalty/earning",
            post(program::save_earning),
        )
        .route(
            "/merchants/{merchant_id}/loyalty/tiers",
            post(program::save_tiers),
        )
        .route(
            "/merchants/{merchant_id}/loyalty/cards",
            post(program::create_card),
        )
        .route(
            "/merchants/{merchant_id}/loyalty/cards/{card_id}",
            post(program::update_card),
        )
        .route_layer(from_fn_with_state(state, check_form_token));
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::sign_in_page))
        .route("/assets/dashboard.css", get(stylesheet))
        .route("/merchants/{merchant_id}/channels", get(channels::list))
        .route("/merchants/{merchant_id}/channels/new", get(channels::pick))
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}",
            get(channels::status),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/settings",
            get(channels::settings),
        )
        .route(
            "/merchants/{merchant_id}/channels/{connection_id}/log",
            get(channels::log),
        )
        .route("/merchants/{merchant_id}/members", get(members::list))
        .route(
            "/merchants/{merchant_id}/members/{member_id}",
            get(members::profile),
        )
        .route("/merchants/{merchant_id}/loyalty", get(program::show))
        .route("/merchants/{merchant_id}/insights", get(insights::show))
        .route("/merchants/{merchant_id}/labor", get(labor::show))
        .route(
            "/merchants/{merchant_id}/labor/departments/new",
            get(labor::new_department),
        )
        .route(
            "/merchants/{merchant_id}/labor/departments/{department_id}",
            get(labor::edit_department),
        )
        .route(
            "/merchants/{merchant_id}/labor/departments/{department_id}/week",
            get(labor::week),
        )
        .route("/merchants/{merchant_id}/labor/import", get(labor::import))
        .route("/merchants/{merchant_id}/onboarding", get(onboarding::show))
        .route("/merchants/{merchant_id}/orders", get(orders::list))
        .route("/merchants/{merchant_id}/catalog", get(catalog::show))
        .route("/merchants/{merchant_id}/financials", get(financials::show))
        .route(
            "/merchants/{merchant_id}/orders/{order_id}",
            get(orders::detail),
        )
        .route(
            "/merchants/{merchant_id}/loyalty/cards/new",
            get(program::new_card),
        )
        .route(
            "/merchants/{merchant_id}/loyalty/cards/{card_id}",
            get(program::edit_card),
        )
        .merge(forms)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("dashboard.css"),
    )
        .into_response()
}

/// The value of one cookie of the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site; Secure when served
/// over https.
pub(crate) fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    let secure = if state.engine.config().public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("tb_invalid=; Path=/; Max-Age=0"))
}

/// The signed-in user of a request; pages that need one send everyone else to sign in.
pub(crate) struct Viewer {
    pub user: UserRow,
    /// The form token every form of the page carries.
    pub csrf: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.user.merchant_id.is_none()
    }

    /// The merchant, if this user may see it; otherwise the same 404 as an unknown merchant.
    pub async fn merchant(&self, state: &AppState, merchant_id: &str) -> Result<Merchant, Page> {
        if self
            .user
            .merchant_id
            .as_deref()
            .is_some_and(|own| own != merchant_id)
        {
            return Err(Page::not_found());
        }
        state.engine.merchant(merchant_id).await.map_err(Page::from)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.engine.session_user(token).await {
            Ok(Some(user)) => Ok(Viewer {
                user,
                csrf: csrf_token(token),
            }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(Page::from(e).into_response()),
        }
    }
}

/// Checks the form token of every POST before its handler runs: the session's token, or on
/// the sign-in form the double-submit cookie. The form is read here and handed on unchanged.
async fn check_form_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let signing_in = req.uri().path() == "/login";
    let expected = if signing_in {
        cookie(req.headers(), LOGIN_COOKIE).map(str::to_owned)
    } else {
        match cookie(req.headers(), SESSION_COOKIE) {
            Some(token) => match state.engine.session_user(token).await {
                Ok(Some(_)) => Some(csrf_token(token)),
                Ok(None) => return Redirect::to("/login").into_response(),
                Err(e) => return Page::from(e).into_response(),
            },
            None => return Redirect::to("/login").into_response(),
        }
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return Page::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            "The form sent more than 64 KiB; shorten what you typed and send it again.",
        )
        .into_response();
    };
    let sent = form::url_decoded(&bytes)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v);
    let valid = match (&expected, &sent) {
        (Some(e), Some(s)) => bool::from(e.as_bytes().ct_eq(s.as_bytes())),
        _ => false,
    };
    if !valid {
        return Page::error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is out of date or did not come from this dashboard. Reload the page and send it again.",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A form body; one that cannot be read becomes a page that says so.
pub(crate) struct DashForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for DashForm<T> {
    type Rejection = Page;

    async fn from_request(req: Request, state: &S) -> Result<Self, Page> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| DashForm(v))
            .map_err(|e| {
                Page::error(
                    StatusCode::BAD_REQUEST,
                    "Form not understood",
                    &format!(
                        "The form could not be read ({}). Reload the page and send it again.",
                        e.body_text()
                    ),
                )
            })
    }
}

pub(crate) mod form {
    use super::Page;
    use axum::response::{IntoResponse, Redirect, Response};
    use maud::{html, Markup};
    use tillbridge_engine::EngineError;
    use tillbridge_model::{currency_exponent, parse_minor};

    /// The pairs of an `application/x-www-form-urlencoded` body (unreadable pairs dropped).
    pub fn url_decoded(bytes: &[u8]) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
    }

    /// A form whose fields may repeat (check boxes, table rows), read as sent.
    #[derive(serde::Deserialize)]
    #[serde(transparent)]
    pub struct Fields(Vec<(String, String)>);

    impl Fields {
        /// The field's first value, trimmed; empty when it was not sent.
        pub fn get(&self, name: &str) -> &str {
            self.0
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.trim())
        }

        /// Every value sent under `name`, in order.
        pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
            self.0
                .iter()
                .filter(move |(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }

        /// Whether a check box was ticked.
        pub fn ticked(&self, name: &str) -> bool {
            self.0.iter().any(|(k, _)| k == name)
        }
    }

    /// What is wrong with a form, field by field; shown next to each field, and the form keeps
    /// what was typed.
    #[derive(Default)]
    pub struct Problems(Vec<(String, String)>);

    impl Problems {
        pub fn add(&mut self, field: &str, message: impl Into<String>) {
            self.0.push((field.to_owned(), message.into()));
        }

        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }

        pub fn of(&self, field: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, m)| m.as_str())
        }

        /// `aria-invalid` for the field's input.
        pub fn invalid(&self, field: &str) -> Option<&'static str> {
            self.of(field).map(|_| "true")
        }

        /// The field's message, if it has one.
        pub fn show(&self, field: &str) -> Markup {
            html! {
                @if let Some(m) = self.of(field) {
                    div.field-error id=(format!("{field}-error")) role="alert" { (m) }
                }
            }
        }
    }

    impl Problems {
        /// An engine refusal joins the problems: beside the field its message starts with
        /// (`` `from` …``), otherwise at the top of the form. Any other error becomes an
        /// error page.
        pub fn refusal(&mut self, e: EngineError, fields: &[&str]) -> Result<(), Page> {
            match e {
                EngineError::Invalid(m) | EngineError::Conflict(m) => {
                    let field = fields
                        .iter()
                        .find(|f| m.starts_with(&format!("`{f}`")))
                        .copied()
                        .unwrap_or("form");
                    self.add(field, m);
                    Ok(())
                }
                e => Err(Page::from(e)),
            }
        }
    }

    /// Saves when the form has no problems, and then sends the browser on to `next`. A
    /// refusal of the engine joins the problems (see [`Problems::refusal`]); `None` tells the
    /// caller to show the form again. `saving` does nothing unless it is awaited here.
    pub async fn save<T>(
        problems: &mut Problems,
        fields: &[&str],
        saving: impl std::future::Future<Output = Result<T, EngineError>>,
        next: &str,
    ) -> Result<Option<Response>, Page> {
        if !problems.is_empty() {
            return Ok(None);
        }
        match saving.await {
            Ok(_) => Ok(Some(Redirect::to(next).into_response())),
            Err(e) => {
                problems.refusal(e, fields)?;
                Ok(None)
            }
        }
    }

    /// An amount typed in the merchant's currency (`12.50`), as minor units. More decimals
    /// than the currency has are refused rather than rounded.
    pub fn amount(raw: &str, currency: &str) -> Result<i64, String> {
        let exponent = currency_exponent(currency);
        let typed = raw.trim();
        let decimals = typed.split_once('.').map_or(0, |(_, d)| d.len());
        if decimals > exponent as usize {
            return Err(format!(
                "`{typed}` has more decimals than {currency} has ({exponent}); round it"
            ));
        }
        let minor = parse_minor(typed, exponent)
            .map_err(|_| format!("`{typed}` is not an amount; write it like 12.50"))?;
        if minor < 0 {
            return Err(format!("`{typed}` is negative; use 0 or more"));
        }
        Ok(minor)
    }

    /// A whole number typed into a form, within `range`.
    pub fn count(raw: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32, String> {
        let typed = raw.trim();
        typed
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "`{typed}` is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                )
            })
    }
}

/// An error page the dashboard answers with instead of the page asked for.
pub(crate) enum Page {
    Error {
        status: StatusCode,
        title: String,
        message: String,
    },
}

impl Page {
    pub fn error(status: StatusCode, title: &str, message: &str) -> Page {
        Page::Error {
            status,
            title: title.to_owned(),
            message: message.to_owned(),
        }
    }

    pub fn not_found() -> Page {
        Page::error(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or it belongs to another merchant.",
        )
    }
}

impl From<EngineError> for Page {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(_) => Page::not_found(),
            EngineError::Invalid(m) | EngineError::Conflict(m) => {
                Page::error(StatusCode::BAD_REQUEST, "Not done", &m)
            }
            e @ (EngineError::NeedsReauth(_) | EngineError::Disabled(_)) => {
                Page::error(StatusCode::CONFLICT, "Not done", &e.to_string())
            }
            e @ (EngineError::Provider(_) | EngineError::Mapping(_)) => Page::error(
                StatusCode::BAD_GATEWAY,
                "Lightspeed did not answer as expected",
                &e.to_string(),
            ),
            e => {
                tracing::error!(error = %e, "dashboard page failed");
                Page::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be shown; the server log has the details.",
                )
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        match self {
            Page::Error {
                status,
                title,
                message,
            } => {
                let body = html! {
                    h1 { (title) }
                    p #message { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                };
                respond(status, document(&title, None, body))
            }
        }
    }
}

/// Headers every page carries: not cached, not framed, no scripts or styles from elsewhere.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A merchant's page: the layout with the navigation, `section` open.
pub(crate) fn merchant_page(
    viewer: &Viewer,
    merchant: &Merchant,
    section: &str,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    let nav = Nav {
        viewer,
        merchant,
        section,
    };
    respond(status, document(title, Some(&nav), body))
}

/// What a page says after a form sent the browser back to it with `?done=…`, looked up in the
/// page's own table of notices.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Done {
    pub done: Option<String>,
}

impl Done {
    pub fn notice(&self, notices: &[(&str, &'static str)]) -> Option<&'static str> {
        let done = self.done.as_deref()?;
        notices.iter().find(|(k, _)| *k == done).map(|(_, n)| *n)
    }

    pub fn show(&self, notices: &[(&str, &'static str)]) -> Markup {
        html! {
            @if let Some(n) = self.notice(notices) {
                p.notice #notice role="status" { (n) }
            }
        }
    }
}

/// The navigation of a merchant's pages.
pub(crate) struct Nav<'a> {
    pub viewer: &'a Viewer,
    pub merchant: &'a Merchant,
    /// Which section is open (`channels`).
    pub section: &'a str,
}

/// A whole page: head, the header with navigation when signed in, and the body.
pub(crate) fn document(title: &str, nav: Option<&Nav<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · tillbridge" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                header.top {
                    a.brand href="/" { "tillbridge" }
                    @if let Some(nav) = nav {
                        span.merchant #merchant-name { (nav.merchant.name) }
                        nav {
                            @let base = format!("/merchants/{}", nav.merchant.id);
                            a href=(format!("{base}/channels")) class=[(nav.section == "channels").then_some("open")] { "Sales Channels" }
                            a href=(format!("{base}/members")) class=[(nav.section == "members").then_some("open")] { "Members" }
                            a href=(format!("{base}/loyalty")) class=[(nav.section == "loyalty").then_some("open")] { "Loyalty program" }
                            a href=(format!("{base}/insights")) class=[(nav.section == "insights").then_some("open")] { "Insights" }
                            a href=(format!("{base}/labor")) class=[(nav.section == "labor").then_some("open")] { "Weekly balance" }
                            a href=(format!("{base}/orders")) class=[(nav.section == "orders").then_some("open")] { "Orders" }
                            a href=(format!("{base}/catalog")) class=[(nav.section == "catalog").then_some("open")] { "Catalog" }
                            a href=(format!("{base}/financials")) class=[(nav.section == "financials").then_some("open")] { "Financials" }
                        }
                        span.who {
                            @if nav.viewer.is_admin() { a href="/" { "All merchants" } " · " }
                            (nav.viewer.user.email)
                        }
                        (sign_out_form(nav.viewer))
                    }
                }
                main { (body) }
            }
        }
    }
}

pub(crate) fn sign_out_form(viewer: &Viewer) -> Markup {
    html! {
        form.inline method="post" action="/logout" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button.link #sign-out type="submit" { "Sign out" }
        }
    }
}

/// An instant in the merchant's zone, with the zone's abbreviation.
pub(crate) fn at(ms: i64, zone: &str) -> String {
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(ms) else {
        return "—".to_owned();
    };
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => utc
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => utc.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}
